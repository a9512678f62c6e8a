package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// childAttr puts the command in a process group of its own, as tini does, and
// when stdin is stasis's controlling terminal, makes that group the
// terminal's foreground, so that job control and Ctrl-C behave as without
// stasis. A terminal that is not stasis's own (after setsid, which the
// checkpoint and restore modes do for CRIU) cannot be given: tcsetpgrp
// fails with ENOTTY and the command would not start.
func childAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	sid, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGSID)
	if own, _ := unix.Getsid(0); err == nil && sid == own {
		a.Foreground = true
		a.Ctty = 0
	}
	return a
}

// isTerminal asks for f's terminal attributes, as isatty(3) does.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
