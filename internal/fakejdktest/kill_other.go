//go:build !linux

package fakejdktest

// syscallKill is a no-op where the harness cannot run anyway.
func syscallKill(int) {}
