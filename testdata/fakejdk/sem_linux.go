package main

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semCreate opens (creating if needed) OpenJ9's attach semaphore: a set of
// one, mode 0666, keyed by ftok(_notifier, 0xa1) (eclipse-openj9/openj9
// runtime/jcl/common/attach.c openSemaphore: setSize 1, permission 0666,
// proj_id 0xa1).
func semCreate(control string) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(control, &st); err != nil {
		return 0, err
	}
	key := uint32(st.Ino&0xffff) | uint32(st.Dev&0xff)<<16 | uint32(0xa1)<<24
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(int32(key)), 1, uintptr(unix.IPC_CREAT|0o666))
	if errno != 0 {
		return 0, errno
	}
	return int(id), nil
}

// semWait takes one post, waiting at most d (IPC.waitSemaphore waits
// without a limit).
func semWait(id int, d time.Duration) error {
	b := struct {
		num uint16
		op  int16
		flg int16
	}{0, -1, 0}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, errno := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&b)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
