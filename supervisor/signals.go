package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardable says whether a signal that stasis received goes on to the child.
// SIGCHLD is the reaper's, SIGURG is the Go runtime's preemption signal,
// SIGPIPE is caught only so that a write to a closed stdout returns EPIPE
// instead of killing PID 1, and SIGTTIN/SIGTTOU concern stasis's own access to
// a terminal (the child has a process group of its own, as under tini).
func forwardable(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return true
}

// ParseSignal accepts "TERM", "SIGTERM", "sigterm" or "15". Signals that
// cannot be caught or sent meaningfully (0, KILL and STOP are allowed since a
// user may want them as the stop signal) must be in 1..64.
func ParseSignal(s string) (syscall.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty signal")
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal number %d out of range 1..64", n)
		}
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(t, "SIG") {
		t = "SIG" + t
	}
	if sig := unix.SignalNum(t); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// SignalName is "SIGTERM", or "signal 40" for those without a name.
func SignalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return "signal " + strconv.Itoa(int(sig))
}
