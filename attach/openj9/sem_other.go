//go:build !linux || !(amd64 || arm64 || riscv64 || ppc64le || s390x)

package openj9attach

import (
	"errors"
	"fmt"
)

func semPost(path string, n int) error {
	return fmt.Errorf("post the OpenJ9 attach semaphore: %w", errors.ErrUnsupported)
}

func semCancel(path string, n int) {}
