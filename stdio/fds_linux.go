package stdio

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// newPipe returns a pipe whose read end is non-blocking (so the runtime poller serves it and
// read deadlines work) and whose write end, the child's, is blocking, as programs expect.
func newPipe(name string) (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("pipe2 for %s: %w", name, err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("set %s pipe non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(p[0]), "|"+name), os.NewFile(uintptr(p[1]), name+"|"), nil
}

// inode is f's inode number: for a pipe, the number in its /proc/PID/fd link "pipe:[INODE]".
// It goes through SyscallConn: f.Fd() would put the poller's non-blocking read side into
// blocking mode, and read deadlines (Pause, Close) would stop working.
func inode(f *os.File) (uint64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("syscall conn of %s: %w", f.Name(), err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, fmt.Errorf("control %s: %w", f.Name(), err)
	}
	if serr != nil {
		return 0, fmt.Errorf("fstat %s: %w", f.Name(), serr)
	}
	return st.Ino, nil
}

// closeInheritedOnExec marks every descriptor above stderr close-on-exec. Descriptors stasis
// inherited (from docker, a shell, a CI runner) are not O_CLOEXEC, and exec would pass them on.
func closeInheritedOnExec() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if err != unix.ENOSYS && err != unix.EINVAL {
		return fmt.Errorf("close_range 3.. with CLOSE_RANGE_CLOEXEC: %w", err)
	}
	return cloexecFromProc() // kernels before 5.11
}

func cloexecFromProc() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list /proc/self/fd: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// The descriptor of the directory read above is gone by now: EBADF is expected.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("fcntl F_SETFD FD_CLOEXEC on fd %d: %w", fd, err)
		}
	}
	return nil
}
