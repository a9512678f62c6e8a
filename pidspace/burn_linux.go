package pidspace

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// burnFlags makes each burned PID as cheap as the kernel allows. CLONE_VM|CLONE_VFORK: no page
// tables are copied and clone returns only after the child has exited, so the child may run on
// the parent's stack (it touches no memory: see cloneExit). Sharing files, fs, signal handlers,
// io context and SysV undo lists spares copying them: measured here, that halves the cost, and
// a child that only calls exit(2), with every signal blocked, uses none of them. The exit signal
// (low byte) is 0, not SIGCHLD, which makes these "clone children" (wait(2)): stasis's reaper,
// calling wait4(-1) or waitid(P_ALL) without __WALL or __WCLONE, never sees them and gets no
// SIGCHLD for them, so no exit reaches the wrong waiter; burnOne reaps each itself with __WCLONE.
const burnFlags = unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_FILES | unix.CLONE_FS |
	unix.CLONE_SIGHAND | unix.CLONE_IO | unix.CLONE_SYSVSEM

// AdvanceByBurning creates and reaps short-lived processes until the PID counter is at or past
// target, so the next PID is above it. Every loop is bounded: it stops with an error when clone
// fails (a pids cgroup limit, a dying namespace), when the counter wraps around pid_max, or after
// pid_max processes.
func AdvanceByBurning(target int) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	last, err := LastPID()
	if err != nil {
		return err
	}
	if last >= target {
		return nil
	}
	max, err := PIDMax()
	if err != nil {
		return err
	}
	return burnUntil(target, max)
}

// burnUntil burns PIDs on one worker per allowed CPU (at most maxWorkers) until one of them
// gets a PID at or past target. Each worker pins its thread to its own CPU: measured on a
// 2-CPU VM, a clone child placed on an idle CPU costs 3-5 times more (the wake-up of that CPU)
// than one that runs where its parent waits, about 40 µs a PID.
func burnUntil(target, max int) error {
	cpus, err := allowedCPUs()
	if err != nil {
		return err
	}
	var done atomic.Bool
	errs := make(chan error, len(cpus))
	for _, cpu := range cpus {
		go func() { errs <- burnOn(cpu, target, max, &done) }()
	}
	var first error
	for range cpus {
		if err := <-errs; err != nil && first == nil {
			first = err
			done.Store(true)
		}
	}
	if first != nil {
		return fmt.Errorf("burn pids up to %d: %w", target, first)
	}
	return nil
}

const maxWorkers = 4

// allowedCPUs lists the CPUs this thread may run on, at most maxWorkers of them.
func allowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64 && len(cpus) < maxWorkers; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if len(cpus) == 0 {
		return nil, errors.New("sched_getaffinity: no cpu allowed")
	}
	return cpus, nil
}

// burnOn runs on a locked OS thread pinned to cpu, with every signal blocked: each child is a
// copy of that thread sharing the Go heap and stack, and a Go signal handler running in it
// would corrupt the parent. Children inherit the mask and the pinning; the thread gets its own
// back afterwards.
func burnOn(cpu, target, max int, done *atomic.Bool) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var oldCPUs, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &oldCPUs); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return fmt.Errorf("sched_setaffinity to cpu %d: %w", cpu, err)
	}
	defer unix.SchedSetaffinity(0, &oldCPUs)
	var all, oldMask unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &all, &oldMask); err != nil {
		return fmt.Errorf("block signals: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &oldMask, nil)
	return burnLoop(target, max, done)
}

// burnLoop is bounded: it stops when another worker is done, when clone fails (a pids cgroup
// limit, a dying namespace), when the counter wraps around pid_max, or after pid_max children.
func burnLoop(target, max int, done *atomic.Bool) error {
	prev := 0
	for range max {
		if done.Load() {
			return nil
		}
		pid, err := burnOne()
		if err != nil {
			return err
		}
		if pid >= target {
			done.Store(true)
			return nil
		}
		if pid < prev {
			return fmt.Errorf("the pid counter wrapped at pid_max %d (pids %d to %d are taken)",
				max, prev+1, max-1)
		}
		prev = pid
	}
	return fmt.Errorf("still below it after %d processes", max)
}

// burnOne allocates one PID by cloning a child that exits at once, and reaps it.
func burnOne() (int, error) {
	pid, errno := cloneExit(burnFlags)
	if errno != 0 {
		return 0, fmt.Errorf("clone: %w", unix.Errno(errno))
	}
	var ws unix.WaitStatus
	err := linux.Retry("wait4", func() error {
		_, err := unix.Wait4(int(pid), &ws, unix.WCLONE, nil)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reap clone child %d: %w", pid, err)
	}
	return int(pid), nil
}
