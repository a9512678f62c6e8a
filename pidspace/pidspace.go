package pidspace

import (
	"fmt"
	"log/slog"
	"time"
)

// Method says how Advance moved the PID counter; "" means it did not need to.
type Method string

// The two ways of moving the counter.
const (
	MethodWrite Method = "ns_last_pid"
	MethodBurn  Method = "burn"
)

// Advance makes the next PID allocated in the current PID namespace greater than target. It
// writes /proc/sys/kernel/ns_last_pid when permitted, else creates and reaps short-lived
// processes until the counter passes target. If the counter is already past target it does
// nothing and returns Method "". A target the namespace cannot reach (target+1 >= pid_max) is an
// error, and so is a counter that cannot move; neither hangs.
func Advance(target int, log *slog.Logger) (Method, error) {
	if err := checkTarget(target); err != nil {
		return "", err
	}
	last, err := LastPID()
	if err != nil {
		return "", err
	}
	if last >= target {
		log.Debug("pid counter already past target", "last_pid", last, "target", target)
		return "", nil
	}
	start := time.Now()
	err = AdvanceByWriting(target)
	if err == nil {
		log.Debug("advanced pid counter", "method", MethodWrite, "from", last, "target", target,
			"took", time.Since(start))
		return MethodWrite, nil
	}
	if !denied(err) {
		return "", err
	}
	log.Debug("cannot write ns_last_pid, burning pids instead", "err", err)
	start = time.Now()
	if err := AdvanceByBurning(target); err != nil {
		return "", err
	}
	log.Debug("advanced pid counter", "method", MethodBurn, "from", last, "target", target,
		"took", time.Since(start))
	return MethodBurn, nil
}

// checkTarget rejects targets no allocation can exceed: the kernel hands out PIDs below pid_max,
// so the next PID can only be greater than target if target+1 < pid_max.
func checkTarget(target int) error {
	if target < 0 {
		return fmt.Errorf("advance pid counter to %d: target is negative", target)
	}
	max, err := PIDMax()
	if err != nil {
		return err
	}
	if target+1 >= max {
		return fmt.Errorf("advance pid counter to %d: no pid above it exists, pid_max is %d "+
			"(lower the minimum pid or raise kernel.pid_max)", target, max)
	}
	return nil
}

// CheckAbove verifies that a launched process got a PID above min. The error says why it
// matters, so callers can log it as is.
func CheckAbove(pid, min int) error {
	if pid > min {
		return nil
	}
	return fmt.Errorf("pid %d is not above the minimum %d: a restore will need pid %d free, "+
		"and low pids are usually taken in a fresh container", pid, min, pid)
}
