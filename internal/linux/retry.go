package linux

import (
	"errors"
	"os"
	"syscall"
)

// Retry calls f until it fails with something other than EINTR, and
// returns that error as an *os.SyscallError naming the syscall, or nil.
// Go installs its signal handlers with SA_RESTART, but the kernel never
// restarts some syscalls (semop, the sleeps: signal(7)), and file systems
// such as FUSE and NFS fail others with EINTR of their own when a signal
// (SIGCHLD, Go's SIGURG) arrives.
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
