//go:build linux && (386 || arm)

package attach

import "golang.org/x/sys/unix"

// On 386 and arm the plain setres[ug]id syscalls take 16-bit ids; the
// 32-bit variants are the ones glibc and Go's syscall package use.
const (
	sysSetresuid = unix.SYS_SETRESUID32
	sysSetresgid = unix.SYS_SETRESGID32
)
