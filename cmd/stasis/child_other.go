//go:build !linux

package main

import (
	"os"
	"syscall"
)

// childAttr: only the process group elsewhere; stasis runs the JVM on Linux.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// isTerminal: no colour elsewhere.
func isTerminal(*os.File) bool { return false }
