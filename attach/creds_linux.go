package attach

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// keepID is -1 for setresuid/setresgid: leave that id unchanged.
const keepID = ^uintptr(0)

// connectAs connects a non-blocking UNIX stream socket to path with the
// effective uid and gid given, and returns its descriptor.
//
// HotSpot accepts a client only if SO_PEERCRED, taken at connect(), shows
// its own euid and egid, or root (JDK 17.0.15 does let root in; the JDK 8
// listener and JVMs whose root is another user namespace's do not). So a
// root stasis connects with the JVM's ids, exactly as jcmd run by the
// JVM's user would, and takes them for the connect alone. Linux
// credentials belong to a thread, and Go's syscall.Setresuid changes every
// thread of the process: stasis is PID 1 and must never do that. So the
// switch is made with raw syscalls on a locked OS thread and undone right
// after connect. While the thread is locked the runtime starts new threads
// from its template thread, so none inherits the borrowed ids.
func connectAs(path string, uid, gid int) (fd int, err error) {
	runtime.LockOSThread()
	oldGID := unix.Getegid()
	if err := setThreadIDs(sysSetresgid, gid); err != nil {
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("set egid %d on the attach thread: %w", gid, err)
	}
	if err := setThreadIDs(sysSetresuid, uid); err != nil {
		if rerr := setThreadIDs(sysSetresgid, oldGID); rerr != nil {
			// Leave the thread locked: the runtime then kills it when this
			// goroutine exits instead of reusing it with the JVM's gid.
			return -1, fmt.Errorf("set euid %d on the attach thread: %w; restore egid: %v", uid, err, rerr)
		}
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("set euid %d on the attach thread: %w", uid, err)
	}
	fd, err = connectUnix(path)
	if rerr := restoreThreadIDs(oldGID); rerr != nil {
		// Same as above: a locked thread that is never unlocked dies with
		// its goroutine, so no other goroutine can run as the JVM's user.
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, rerr
	}
	runtime.UnlockOSThread()
	return fd, err
}

// restoreThreadIDs returns the thread to euid 0 first: that brings back the
// capabilities (CAP_SETGID) needed to restore the gid.
func restoreThreadIDs(gid int) error {
	if err := setThreadIDs(sysSetresuid, 0); err != nil {
		return fmt.Errorf("restore euid 0 on the attach thread: %w", err)
	}
	if err := setThreadIDs(sysSetresgid, gid); err != nil {
		return fmt.Errorf("restore egid %d on the attach thread: %w", gid, err)
	}
	return nil
}

// setThreadIDs sets only the effective id of the calling thread; the real
// and saved ids stay 0, which is what allows switching back.
func setThreadIDs(trap uintptr, id int) error {
	return linux.Retry(setresName(trap), func() error {
		_, _, errno := unix.RawSyscall(trap, keepID, uintptr(id), keepID)
		return linux.Errno(errno)
	})
}

func setresName(trap uintptr) string {
	if trap == sysSetresgid {
		return "setresgid"
	}
	return "setresuid"
}

// connectUnix opens a socket and connects it to path. The socket is
// non-blocking so that a listener with a full backlog (HotSpot's is 5 and
// serves one client at a time) yields EAGAIN rather than blocking past the
// caller's deadline.
func connectUnix(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket(AF_UNIX): %w", err)
	}
	sa := &unix.SockaddrUnix{Name: path}
	err = linux.Retry("connect", func() error { return unix.Connect(fd, sa) })
	if errors.Is(err, unix.EISCONN) { // an interrupted connect that completed
		err = nil
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect to %s: %w", path, err)
	}
	return fd, nil
}
