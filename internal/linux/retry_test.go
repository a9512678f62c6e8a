package linux

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestRetry(t *testing.T) {
	calls := 0
	err := Retry("waitid", func() error {
		if calls++; calls < 3 {
			return syscall.EINTR
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Retry = %v after %d calls; want nil after 3", err, calls)
	}
	calls = 0
	err = Retry("semop", func() error {
		if calls++; calls < 2 {
			return syscall.EINTR
		}
		return syscall.EIDRM
	})
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "semop" || !errors.Is(err, syscall.EIDRM) || calls != 2 {
		t.Fatalf("Retry = %#v after %d calls; want semop: EIDRM after 2", err, calls)
	}
	if err.Error() != "semop: identifier removed" {
		t.Errorf("error reads %q", err)
	}
	n, err := Retry2("wait4", func() (int, error) {
		if calls++; calls < 5 {
			return -1, syscall.EINTR
		}
		return 42, nil
	})
	if n != 42 || err != nil {
		t.Errorf("Retry2 = %d, %v; want 42, nil", n, err)
	}
	if Errno(0) != nil || !errors.Is(Errno(syscall.EAGAIN), syscall.EAGAIN) {
		t.Error("Errno")
	}
}
