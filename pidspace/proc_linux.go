package pidspace

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// Both files answer for the PID namespace of the process that reads or writes them, whichever
// /proc they are reached through.
const (
	lastPIDFile = "/proc/sys/kernel/ns_last_pid"
	pidMaxFile  = "/proc/sys/kernel/pid_max"
)

// LastPID reads ns_last_pid: the last PID allocated in this PID namespace.
func LastPID() (int, error) { return linux.ReadInt(lastPIDFile) }

// PIDMax reads pid_max: every PID is below it.
func PIDMax() (int, error) { return linux.ReadInt(pidMaxFile) }

// AdvanceByWriting sets ns_last_pid to target, so every later allocation is above it (Go's
// runtime threads and exec probes included). It needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE
// over the namespace; a refusal wraps EPERM. A target below the counter moves it back,
// which is harmless: the kernel skips PIDs in use, so the next PID is still above target.
func AdvanceByWriting(target int) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	f, err := os.OpenFile(lastPIDFile, os.O_WRONLY, 0)
	if err != nil {
		return writeErr(target, err)
	}
	defer f.Close()
	if _, err := f.WriteString(strconv.Itoa(target)); err != nil {
		return writeErr(target, err)
	}
	return nil
}

// writeErr names the file once (the *os.PathError would repeat it) and keeps the errno, which
// Advance tests to choose burning.
func writeErr(target int, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("write %d to %s: %w", target, lastPIDFile, err)
}

// denied reports a write to ns_last_pid refused for lack of privilege (or a read-only
// /proc/sys): the cases where burning is the way out.
func denied(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EROFS)
}

// Holder reports whether pid is free in this namespace and, if not, who holds it. Looking up
// /proc/N finds threads as well as processes (a thread ID is hidden from readdir but not from
// lookup), and a thread's ID blocks that PID as much as a process does. A PID also stays taken
// while it names a live process group or session after its process exited.
func Holder(pid int) (free bool, who string, err error) {
	if pid <= 0 {
		return false, "", fmt.Errorf("look up holder of pid %d: not a valid pid", pid)
	}
	st, err := linux.ReadStat(pid)
	if err == nil {
		return false, describe(pid, st), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, "", fmt.Errorf("look up holder of pid %d: %w", pid, err)
	}
	return groupHolder(pid)
}

// describe names a live holder; for a thread it names the process that owns it.
func describe(pid int, st linux.Stat) string {
	if status, err := linux.ReadStatus(pid); err == nil && status.Tgid != 0 && status.Tgid != pid {
		owner := "?"
		if ost, err := linux.ReadStat(status.Tgid); err == nil {
			owner = ost.Comm
		}
		return fmt.Sprintf("pid %d is held by thread %q of %s (pid %d, state %c)",
			pid, st.Comm, owner, status.Tgid, st.State)
	}
	return fmt.Sprintf("pid %d is held by %s (state %c, parent %d)", pid, st.Comm, st.State, st.PPID)
}

// groupHolder scans every process for pid as its process group or session ID.
func groupHolder(pid int) (bool, string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, "", fmt.Errorf("look up holder of pid %d: %w", pid, err)
	}
	for _, e := range entries {
		other, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := linux.ReadStat(other)
		if err != nil {
			continue // exited meanwhile
		}
		if st.PGRP == pid || st.Session == pid {
			return false, fmt.Sprintf("pid %d is held as process group or session of %s (pid %d)",
				pid, st.Comm, other), nil
		}
	}
	return true, "", nil
}
