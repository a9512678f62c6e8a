//go:build !linux

package engine

import "errors"

func capFileSize(int, int64) error { return errors.ErrUnsupported }

func WritableDir(string) error { return errors.ErrUnsupported }
