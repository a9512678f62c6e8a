package stdio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

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

// openFIFO creates path as a FIFO (mode 0600) if missing and opens its read side read-write
// and non-blocking, then the child's write side. Holding it read-write means the write open never
// blocks, a writer never gets EPIPE while stasis does not read, and EOF never comes.
func openFIFO(path string) (r, w *os.File, err error) {
	if err := ensureFIFO(path); err != nil {
		return nil, nil, err
	}
	rfd, err := openRetry(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	wfd, err := openRetry(path, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		unix.Close(rfd)
		return nil, nil, fmt.Errorf("open %s for writing: %w", path, err)
	}
	return os.NewFile(uintptr(rfd), path), os.NewFile(uintptr(wfd), path), nil
}

func ensureFIFO(path string) error {
	err := unix.Mkfifo(path, 0o600)
	if errors.Is(err, unix.EEXIST) {
		fi, err := os.Lstat(path)
		if err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		if fi.Mode().Type() != fs.ModeNamedPipe {
			return fmt.Errorf("use %s as a fifo: it exists and is a %v", path, fi.Mode().Type())
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("mkfifo %s: %w", path, err)
	}
	// mkfifo applies the umask; 0600 already has no group or other bits, so nothing to undo.
	return nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// pending is how many bytes sit in the pipe or FIFO, without consuming them. TIOCINQ is
// Linux's name for FIONREAD, which pipes and FIFOs answer too.
func pending(f *os.File) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("syscall conn of %s: %w", f.Name(), err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
		return 0, fmt.Errorf("control %s: %w", f.Name(), err)
	}
	if ierr != nil {
		return 0, fmt.Errorf("ioctl FIONREAD on %s: %w", f.Name(), ierr)
	}
	return int64(n), nil
}

// drainFile reads f without ever waiting: until it is empty (EAGAIN) or at EOF, until max bytes
// when max >= 0, or until the deadline when it is set. fn, when set, gets every piece read.
// It uses raw reads because the poller would wait for more data instead of reporting EAGAIN,
// and would refuse to read at all past a read deadline, which is how stop interrupts the reader.
func drainFile(f *os.File, buf []byte, max int64, until time.Time, fn func([]byte)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("syscall conn of %s: %w", f.Name(), err)
	}
	var rerr error
	err = rc.Control(func(fd uintptr) { rerr = drainFD(int(fd), buf, max, until, fn) })
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return rerr
}

func drainFD(fd int, buf []byte, max int64, until time.Time, fn func([]byte)) error {
	for max != 0 && (until.IsZero() || time.Now().Before(until)) {
		b := buf
		if max > 0 && int64(len(b)) > max {
			b = b[:max]
		}
		n, err := unix.Read(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || (err == nil && n == 0):
			return nil
		case err != nil:
			return fmt.Errorf("read: %w", err)
		}
		if fn != nil {
			fn(b[:n])
		}
		if max > 0 {
			max -= int64(n)
		}
	}
	return nil
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
