package engine

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A seccomp filter changes what CRIU's kernel probe finds only where a
// probe takes a failed system call for a missing feature: CRIU then stores
// "absent", where an error it does not expect fails the probe, and so the
// criu run. kdatProbes repeats those probes of kerndat_init()
// (checkpoint-restore/criu criu/kerndat.c) whose answer is one system
// call's, with CRIU's own arguments, and the key records each answer: a
// cache is used only where every call answers as it did when the cache was
// made, whatever filter gave the answer. Docker's checkpoint container runs
// unconfined and its restores under the default profile: where that
// profile lets these calls through, the checkpoint's cache fits them.
//
// Not repeated: the probes of fields only a dump reads, since stasis hands
// its cache to `criu restore` alone: has_kcmp_epoll_tfd (criu/eventpoll.c,
// find_tfd_bsearch and dump_one_eventpoll) and has_pidfd_getfd
// (criu/pidfd-store.c, init_pidfd_store_sk). Docker's default profile
// refuses kcmp and pidfd_getfd (EPERM) without CAP_SYS_PTRACE, where an
// unconfined checkpoint container finds both: measured, that alone kept the
// checkpoint's cache from Docker's restores. Nor kerndat_uffd() (skipped
// under --unprivileged, which the cache is always made and used with), the
// probes kerndat_try_load_new()
// runs again even with a cache (hugetlb devices, ptrace's rseq
// configuration, shadow stacks), prctl(PR_SET_THP_DISABLE) (it changes the
// caller), and the probes whose failure CRIU takes for an error rather than
// an absence (mmap, socket, ptrace, fork): a filter that blocks those leaves
// no cache to load, and a wrong cache still ends in the retry without it.
var kdatProbes = []struct {
	name string // the kerndat.c function, the field it sets
	call func() unix.Errno
}{
	{"kerndat_has_memfd_create has_memfd", func() unix.Errno {
		return closing(unix.Syscall(unix.SYS_MEMFD_CREATE, 0, 0, 0))
	}},
	{"kerndat_has_memfd_hugetlb has_memfd_hugetlb", func() unix.Errno {
		name := []byte{0}
		return closing(unix.Syscall(unix.SYS_MEMFD_CREATE, uintptr(unsafe.Pointer(&name[0])), unix.MFD_HUGETLB, 0))
	}},
	{"kerndat_has_fsopen has_fsopen", func() unix.Errno {
		return closing(unix.Syscall(unix.SYS_FSOPEN, 0, 0xffffffff, 0))
	}},
	{"kerndat_has_clone3_set_tid has_clone3_set_tid", clone3SetTid},
	{"kerndat_has_pidfd_open has_pidfd_open", func() unix.Errno {
		return closing(unix.Syscall(unix.SYS_PIDFD_OPEN, uintptr(os.Getpid()), 0, 0))
	}},
	{"kerndat_has_openat2 has_openat2", func() unix.Errno {
		dot, dirfd := []byte(".\x00"), unix.AT_FDCWD
		return closing(unix.Syscall6(unix.SYS_OPENAT2, uintptr(dirfd), uintptr(unsafe.Pointer(&dot[0])), 0, 0, 0, 0))
	}},
	{"kerndat_has_rseq has_rseq", func() unix.Errno {
		_, _, e := unix.Syscall6(unix.SYS_RSEQ, 0, 0, 0, 0, 0, 0)
		return e
	}},
	{"kerndat_has_membarrier_get_registrations has_membarrier_get_registrations", func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, 1<<9, 0, 0) // MEMBARRIER_CMDBIT_GET_REGISTRATIONS
		return e
	}},
	{"kerndat_has_close_range has_close_range", func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_CLOSE_RANGE, 2, 1, 0) // first > last: EINVAL where it exists
		return e
	}},
	{"kerndat_has_timer_cr_ids has_timer_cr_ids", func() unix.Errno {
		_, _, e := unix.Syscall6(unix.SYS_PRCTL, 77, 2, 0, 0, 0, 0) // PR_TIMER_CREATE_RESTORE_IDS, _GET
		return e
	}},
	{"kerndat_has_madv_guard has_madv_guard", madvGuard},
	{"kerndat_has_inotify_setnextwd has_inotify_setnextwd", inotifySetNextWd},
}

// kdatSyscalls is the key's lines for kdatProbes: each probe's answer,
// "ok" or the errno's name.
func kdatSyscalls() string {
	var b strings.Builder
	for _, p := range kdatProbes {
		e := p.call()
		answer := "ok"
		if e != 0 {
			answer = unix.ErrnoName(e)
			if answer == "" {
				answer = fmt.Sprintf("errno%d", int(e))
			}
		}
		fmt.Fprintf(&b, "syscall %s %s\n", p.name, answer)
	}
	return b.String()
}

// closing closes the descriptor a probe got.
func closing(fd, _ uintptr, e unix.Errno) unix.Errno {
	if e == 0 {
		unix.Close(int(fd))
	}
	return e
}

// clone3SetTid: clone3 with set_tid set and set_tid_size 0, which a kernel
// with set_tid refuses (EINVAL; kernel/fork.c copy_clone_args_from_user), one
// without it finds too long (E2BIG), and one without clone3 does not know
// (ENOSYS). It never creates a process: 80 bytes is CRIU's struct
// _clone_args (criu/include/sched.h), set_tid its ninth field.
func clone3SetTid() unix.Errno {
	var args [10]uint64
	args[8] = ^uint64(0)
	_, _, e := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	return e
}

// madvGuard: madvise(MADV_GUARD_INSTALL) on a fresh anonymous page.
func madvGuard() unix.Errno {
	page := os.Getpagesize()
	m, err := unix.Mmap(-1, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Munmap(m)
	_, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(unsafe.Pointer(&m[0])), uintptr(page), 102) // MADV_GUARD_INSTALL
	return e
}

// inotifySetNextWd: ioctl(INOTIFY_IOC_SETNEXTWD, 0x10) on a new inotify
// descriptor.
func inotifySetNextWd() unix.Errno {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), 0x40044900, 0x10) // _IOW('I', 0, __s32)
	return e
}

func errnoOf(err error) unix.Errno {
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EINVAL
}
