package main

import (
	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// canWrite asks the kernel whether this process may create files in dir:
// access(2) with W_OK answers EROFS on a read-only mount, also for root.
func canWrite(dir string) error {
	return linux.Retry("access", func() error { return unix.Access(dir, unix.W_OK) })
}
