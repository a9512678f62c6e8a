package main

import (
	"errors"

	"golang.org/x/sys/unix"
)

// canWrite asks the kernel whether this process may create files in dir:
// access(2) with W_OK answers EROFS on a read-only mount, also for root.
func canWrite(dir string) error {
	for {
		err := unix.Access(dir, unix.W_OK)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err
	}
}
