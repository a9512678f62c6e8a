//go:build !linux

package healthcheck

import "errors"

func freeBytes(string) (int64, string) { return -1, errors.ErrUnsupported.Error() }
