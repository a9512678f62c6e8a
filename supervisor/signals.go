package supervisor

import (
	"fmt"
	"os"
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

// standardSignals are the signals 1-31 stasis catches: all but SIGKILL and
// SIGSTOP (uncatchable), SIGCHLD (the reaper's own) and SIGURG (the Go
// runtime's preemption signal). SIGPIPE is among them so that a write to a
// closed stdout returns EPIPE instead of killing PID 1; SIGTTIN and SIGTTOU
// so that a background stasis is never stopped by its terminal.
func standardSignals() []os.Signal {
	var out []os.Signal
	for n := 1; n <= 31; n++ {
		switch sig := syscall.Signal(n); sig {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG:
		default:
			out = append(out, sig)
		}
	}
	return out
}

// realtimeSignals are 32-64, forwarded like the others.
func realtimeSignals() []os.Signal {
	var out []os.Signal
	for n := 32; n <= 64; n++ {
		out = append(out, syscall.Signal(n))
	}
	return out
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
