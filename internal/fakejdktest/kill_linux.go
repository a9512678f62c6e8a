//go:build linux

package fakejdktest

import "syscall"

func syscallKill(pid int) { syscall.Kill(pid, syscall.SIGKILL) }
