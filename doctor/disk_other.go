//go:build !linux

package doctor

import "errors"

func freeBytes(string) (int64, string) { return -1, errors.ErrUnsupported.Error() }
