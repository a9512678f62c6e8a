package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listFDs lists the process's open descriptors with raw syscalls: os.Open
// would start Go's netpoller (an epoll fd and an eventfd) as a side effect,
// and closeInheritedFDs runs before anything else opens a descriptor.
func listFDs() (fds []int, dirfd int, err error) {
	dirfd, err = unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("open /proc/self/fd: %w", err)
	}
	defer unix.Close(dirfd)
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dirfd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, -1, fmt.Errorf("getdents /proc/self/fd: %w", err)
		}
		if n == 0 {
			return fds, dirfd, nil
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd != dirfd {
				fds = append(fds, fd)
			}
		}
	}
}

// closeInheritedFDs does what a CRaC VM does at start-up when
// CRaCCheckpointTo is set: close every descriptor above 2 that
// CRaCIgnoredFileDescriptors does not name (openjdk/crac
// src/hotspot/os/linux/crac_linux.cpp: crac::vm_create_start calls
// close_extra_descriptors, which keeps fds 0-2, the ones is_fd_ignored
// finds in the list by number or path, and the modules image). The double
// matches numbers only.
func closeInheritedFDs(ignored map[int]bool) error {
	fds, _, err := listFDs()
	if err != nil {
		return err
	}
	for _, fd := range fds {
		if fd > 2 && !ignored[fd] {
			unix.Close(fd)
		}
	}
	return nil
}

func fdTarget(fd int) string {
	t, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "?"
	}
	return t
}

// fdType names a descriptor's type the way CRaC's check_fds does.
func fdType(fd int) string {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "unknown"
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFREG:
		return "regular"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFCHR:
		return "character"
	case unix.S_IFBLK:
		return "block"
	case unix.S_IFIFO:
		return "fifo"
	}
	return "unknown"
}

// procStartTime is field 22 of /proc/self/stat. CRIU recreates the process
// with fork, so the value changes across a restore: that is how the double's
// "JVM" learns it was restored, whichever tool restored it.
func procStartTime() string {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// mapLibrary maps the VM library read-only, so /proc/PID/maps names it.
func mapLibrary(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE); err != nil {
		return fmt.Errorf("mmap %s: %w", path, err)
	}
	return nil
}

// dieBySignal ends the process with sig so that its parent sees "killed by
// sig", as CRaC's restorewait does for a JVM killed by a signal. Go's own
// handler would turn SIGQUIT and others into exit 2, so the disposition is
// reset to SIG_DFL with a raw rt_sigaction first.
func dieBySignal(sig syscall.Signal) {
	if sig != syscall.SIGKILL {
		var act [4]uintptr // handler SIG_DFL, no flags, no restorer, empty mask
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		var set unix.Sigset_t
		set.Val[0] = 1 << (uint(sig) - 1)
		unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	}
	unix.Tgkill(os.Getpid(), unix.Gettid(), sig)
	// Signals whose default action is to ignore or stop end up here.
	time.Sleep(200 * time.Millisecond)
	os.Exit(128 + int(sig))
}
