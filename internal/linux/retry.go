package linux

import (
	"errors"
	"os"
	"syscall"
)

// Retry calls f until it fails with something other than EINTR, and
// returns that error as an *os.SyscallError naming the syscall, or nil.
// Go installs its signal handlers with SA_RESTART, but the kernel restarts
// only some syscalls (signal(7)): semop, a blocking connect and calls into
// FUSE or NFS can still fail with EINTR when a signal (SIGCHLD, Go's
// SIGURG) arrives.
func Retry(name string, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, syscall.EINTR) {
			return os.NewSyscallError(name, err)
		}
	}
}

// Retry2 is Retry for a syscall that also returns a value.
func Retry2[T any](name string, f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if !errors.Is(err, syscall.EINTR) {
			return v, os.NewSyscallError(name, err)
		}
	}
}

// Errno turns a raw syscall's errno into an error, nil for 0, for Retry.
func Errno(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
