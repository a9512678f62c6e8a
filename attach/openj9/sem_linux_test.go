//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x)

package openj9attach

import "golang.org/x/sys/unix"

// semRemove deletes the semaphore set of control file path, which a test
// created in a common directory of its own (OpenJ9 leaves the set behind).
func semRemove(path string) {
	if id, err := semOpen(path); err == nil {
		unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, uintptr(unix.IPC_RMID), 0, 0, 0)
	}
}
