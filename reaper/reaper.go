package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// unclaimedMax bounds how many exits of unknown PIDs are remembered for a later
// Adopt. A process restored by `criu restore --restore-sibling` becomes our child
// before we learn its PID from the pidfile, and may exit in between.
const unclaimedMax = 4096

// sweepInterval is a safety net: SIGCHLD is coalesced by the kernel and by
// os/signal, and the loop drains with WNOHANG, so a missed signal is unlikely;
// the sweep makes it harmless.
const sweepInterval = time.Second

// A Reaper owns wait4(-1) for this process.
type Reaper struct {
	log *slog.Logger

	// mu is held while wait4 runs and while a child is started and registered:
	// a child can therefore never be reaped before its Process exists.
	mu        sync.Mutex
	waiters   map[int]*Process
	unclaimed map[int]unix.WaitStatus
	order     []int // unclaimed PIDs, oldest first
	reaped    int   // orphans reaped, for tests and status

	sigs chan os.Signal
	kick chan struct{} // a child was registered: the blocking waiter may wait again
	stop chan struct{}
	once sync.Once
}

// A Process is a child whose exit someone waits for.
type Process struct {
	Pid    int
	r      *Reaper
	done   chan struct{}
	status unix.WaitStatus
}

// New starts the reaping goroutine. When this process is not PID 1 it makes
// itself a child subreaper, so orphans of its descendants come to it.
func New(log *slog.Logger) (*Reaper, error) {
	if os.Getpid() != 1 {
		if err := setSubreaper(); err != nil {
			return nil, err
		}
	}
	r := &Reaper{
		log:       log,
		waiters:   map[int]*Process{},
		unclaimed: map[int]unix.WaitStatus{},
		sigs:      make(chan os.Signal, 64),
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	go r.loop()
	go r.block()
	r.reapAll() // children that exited before Notify
	return r, nil
}

// Close stops the reaping goroutine.
func (r *Reaper) Close() {
	r.once.Do(func() {
		signal.Stop(r.sigs)
		close(r.stop)
	})
}

func (r *Reaper) loop() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.sigs:
		case <-t.C:
		}
		r.reapAll()
	}
}

// block sleeps in waitid until some child has exited, without reaping it
// (WNOWAIT), and then reaps under the lock like the loop. The kernel wakes it
// directly, which spares the hand-offs of SIGCHLD through os/signal: about
// 1 ms off every container start in the init benchmark. With no child at
// all, it waits for Start or Adopt to register one. It holds an OS thread
// while it waits; after Close it ends at the next exit without reaping it.
func (r *Reaper) block() {
	for {
		if err := awaitExit(); err == nil {
			select {
			case <-r.stop:
				return // closed: the exit is for whoever reaps now
			default:
			}
			r.reapAll()
			continue
		}
		// ECHILD: no children now
		select {
		case <-r.kick:
		case <-r.stop:
			return
		}
	}
}

// reapAll collects every exited child. It deliberately passes neither __WALL
// nor __WCLONE: children created with an exit signal other than SIGCHLD (the
// PID burner's, Go's pidfd probe) are waited for by whoever made them.
func (r *Reaper) reapAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := linux.Retry2("wait4", func() (int, error) { return unix.Wait4(-1, &ws, unix.WNOHANG, nil) })
		if err != nil || pid <= 0 {
			return // ECHILD: no children; 0: none has exited
		}
		r.deliver(pid, ws)
	}
}

func (r *Reaper) deliver(pid int, ws unix.WaitStatus) {
	if p, ok := r.waiters[pid]; ok {
		delete(r.waiters, pid)
		p.status = ws
		close(p.done)
		return
	}
	r.reaped++
	r.log.Debug("reaped orphan", "pid", pid, "status", Describe(ws))
	if _, dup := r.unclaimed[pid]; !dup {
		r.order = append(r.order, pid)
	}
	r.unclaimed[pid] = ws
	for len(r.order) > unclaimedMax {
		delete(r.unclaimed, r.order[0])
		r.order = r.order[1:]
	}
}

// Start starts cmd and registers its PID before any reaping can happen. cmd's
// stdio must be *os.File or nil, and cmd must not have a Context: exec.Cmd
// would otherwise start goroutines that only Cmd.Wait ends, and nobody calls
// Cmd.Wait on a child of stasis.
func (r *Reaper) Start(cmd *exec.Cmd) (*Process, error) {
	if err := checkCmd(cmd); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := r.register(cmd.Process.Pid)
	// Release drops the pidfd that os.StartProcess keeps; we signal by PID,
	// which is safe because the PID cannot be reused until we reap it.
	_ = cmd.Process.Release()
	return p, nil
}

func checkCmd(cmd *exec.Cmd) error {
	for _, f := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		switch f.(type) {
		case nil, *os.File:
		default:
			return fmt.Errorf("start %s: stdio must be *os.File, got %T", cmd.Path, f)
		}
	}
	if cmd.Cancel != nil {
		return fmt.Errorf("start %s: commands with a context are not supported", cmd.Path)
	}
	return nil
}

func (r *Reaper) register(pid int) *Process {
	p := &Process{Pid: pid, r: r, done: make(chan struct{})}
	r.waiters[pid] = p
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return p
}

// Adopt returns a Process for pid, a child that stasis did not start itself
// (a tree restored by CRIU with --restore-sibling). If it already exited, its
// remembered status is delivered at once.
func (r *Reaper) Adopt(pid int) *Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.waiters[pid]; ok {
		return p
	}
	p := r.register(pid)
	if ws, ok := r.unclaimed[pid]; ok {
		delete(r.unclaimed, pid)
		// Out of the eviction order too, or a later exit of a reused PID
		// would be evicted in its place.
		r.order = slices.DeleteFunc(r.order, func(q int) bool { return q == pid })
		r.deliver(pid, ws)
	}
	return p
}

// Orphans is the number of exits reaped that nobody waited for.
func (r *Reaper) Orphans() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

// Done is closed when the process has been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Status is the wait status; valid once Done is closed.
func (p *Process) Status() unix.WaitStatus {
	<-p.done
	return p.status
}

// Wait waits for the process or for ctx.
func (p *Process) Wait(ctx context.Context) (unix.WaitStatus, error) {
	select {
	case <-p.done:
		return p.status, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Signal sends sig unless the process has been reaped already. Holding the
// reaper's lock means the PID cannot be reaped, and so reused, in between.
func (p *Process) Signal(sig syscall.Signal) error {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	if err := unix.Kill(p.Pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return os.ErrProcessDone
		}
		return fmt.Errorf("kill pid %d with %s: %w", p.Pid, unix.SignalName(sig), err)
	}
	return nil
}

// ExitCode maps a wait status to a shell exit code: the code itself, or
// 128+N for a process killed by signal N.
func ExitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Describe says how a process ended, for logs: "exit status 3",
// "killed by signal 15 (SIGTERM)".
func Describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		s := fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), unix.SignalName(ws.Signal()))
		if ws.CoreDump() {
			s += ", core dumped"
		}
		return s
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// HasChildren reports whether this process still has a child, running or
// exited and not yet reaped. waitid with WNOWAIT looks without reaping; as a
// subreaper or PID 1, every orphaned descendant becomes such a child, so "no
// children" means the whole tree below stasis is gone.
func (r *Reaper) HasChildren() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return hasChildren()
}
