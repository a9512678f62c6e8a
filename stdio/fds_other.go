//go:build !linux

package stdio

import (
	"errors"
	"os"
)

func newPipe(string) (r, w *os.File, err error) { return nil, nil, errors.ErrUnsupported }
func inode(*os.File) (uint64, error)            { return 0, errors.ErrUnsupported }

func closeInheritedOnExec() error { return errors.ErrUnsupported }
