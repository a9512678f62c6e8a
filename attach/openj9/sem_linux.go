//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x)

package openj9attach

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// projID is the ftok project id of OpenJ9's attach semaphore
// (eclipse-openj9/openj9 runtime/jcl/common/attach.c, openSemaphore:
// openParams.proj_id = 0xa1; the port library's shared semaphore keys the
// set with ftok(controlFile, proj_id)).
const projID = 0xa1

// ftok is glibc's ftok(3).
func ftok(path string, proj int) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return int(uint32(st.Ino&0xffff) | uint32(st.Dev&0xff)<<16 | uint32(proj&0xff)<<24), nil
}

type sembuf struct {
	num uint16
	op  int16
	flg int16
}

// semOpen opens the existing semaphore set of control file path.
func semOpen(path string) (int, error) {
	key, err := ftok(path, projID)
	if err != nil {
		return 0, err
	}
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 0, 0)
	if errno != 0 {
		if errno == unix.ENOENT {
			return 0, fmt.Errorf("no semaphore for %s in this IPC namespace: %w", path, os.ErrNotExist)
		}
		return 0, fmt.Errorf("semget %s: %w", path, errno)
	}
	return int(id), nil
}

func semop(id int, op int16, flg int16) error {
	b := sembuf{num: 0, op: op, flg: flg}
	return linux.Retry("semop", func() error {
		_, _, errno := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&b)), 1)
		return linux.Errno(errno)
	})
}

// semPost posts n times (IPC.notifyVm, j9shsem_post).
func semPost(path string, n int) error {
	id, err := semOpen(path)
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		if err := semop(id, 1, 0); err != nil {
			return fmt.Errorf("post: %w", err)
		}
	}
	return nil
}

// semCancel takes back up to n posts without blocking (IPC.cancelNotify).
func semCancel(path string, n int) {
	id, err := semOpen(path)
	if err != nil {
		return
	}
	for ; n > 0; n-- {
		if err := semop(id, -1, int16(unix.IPC_NOWAIT)); errors.Is(err, syscall.EAGAIN) || err != nil {
			return
		}
	}
}
