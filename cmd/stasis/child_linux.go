package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// childAttr puts the command in a process group of its own, as tini does, and
// when stasis has a terminal on stdin, makes that group the terminal's
// foreground, so that job control and Ctrl-C behave as without stasis.
func childAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if _, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err == nil {
		a.Foreground = true
		a.Ctty = 0
	}
	return a
}
