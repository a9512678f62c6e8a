//go:build !linux

package engine

import "errors"

func capFileSize(int, int64) error { return errors.ErrUnsupported }

func writableDir(string) error { return errors.ErrUnsupported }
