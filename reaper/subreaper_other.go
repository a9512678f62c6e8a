//go:build !linux

package reaper

import "errors"

func setSubreaper() error { return errors.ErrUnsupported }
