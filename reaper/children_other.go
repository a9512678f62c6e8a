//go:build !linux

package reaper

import "errors"

func hasChildren() bool { return false }

func awaitExit() error { return errors.ErrUnsupported }
