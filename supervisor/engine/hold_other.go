//go:build !linux

package engine

import (
	"errors"
	"os"
)

func noExec(string) bool { return true }

func openFIFO(string) (*os.File, error) { return nil, errors.ErrUnsupported }
