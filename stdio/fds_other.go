//go:build !linux

package stdio

import (
	"errors"
	"os"
	"time"
)

func newPipe(string) (r, w *os.File, err error)  { return nil, nil, errors.ErrUnsupported }
func openFIFO(string) (r, w *os.File, err error) { return nil, nil, errors.ErrUnsupported }
func pending(*os.File) (int64, error)            { return 0, errors.ErrUnsupported }
func inode(*os.File) (uint64, error)             { return 0, errors.ErrUnsupported }

func drainFile(*os.File, []byte, int64, time.Time, func([]byte)) error {
	return errors.ErrUnsupported
}

func closeInheritedOnExec() error { return errors.ErrUnsupported }
