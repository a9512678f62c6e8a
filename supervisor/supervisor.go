package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"stasis/reaper"
)

// Config is what the supervisor needs to know; cmd/stasis fills it in.
type Config struct {
	StopTimeout time.Duration  // SIGKILL this long after a forwarded SIGTERM/SIGINT
	StopSignal  syscall.Signal // what a received SIGTERM becomes, and what leftovers get first
}

// A Supervisor receives every signal sent to stasis and owns the reaper.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	Reaper *reaper.Reaper
	raw    chan os.Signal // what os/signal delivers; intake passes it on to sigs
	sigs   chan os.Signal

	// The stop (SIGTERM or SIGINT received) is begun by whichever goroutine
	// supervises and read by the phases: stopMu guards both fields, and
	// stopCh is closed when it begins, so waits can end on it.
	stopMu   sync.Mutex
	stopping bool
	stopAt   time.Time
	stopSig  syscall.Signal // the signal that began the stop
	stopCh   chan struct{}

	State        *State
	manual       chan struct{} // closed by `stasis checkpoint`
	manualOnce   sync.Once     // closes manual: a second request is no error
	manualWanted bool          // STASIS_CHECKPOINT_ON includes manual
}

// New installs the signal handlers and starts the reaper. It must run before
// the first child starts: a signal that arrives earlier is either lost or, for
// SIGTERM, kills a Go PID 1 outright (the runtime's default action exits 2).
func New(cfg Config, log *slog.Logger) (*Supervisor, error) {
	s := &Supervisor{cfg: cfg, log: log, sigs: make(chan os.Signal, 128),
		State: newState(), manual: make(chan struct{}), stopCh: make(chan struct{})}
	// A generous buffer, because os/signal drops signals when the channel is
	// full. Registering a signal costs a round trip to the Go runtime's
	// signal-mask thread (tens of microseconds each): the standard signals,
	// whose early arrival matters (SIGTERM would otherwise make a Go PID 1
	// exit 2), are registered now; the real-time ones, which the runtime
	// simply drops until then, from a goroutine.
	raw := make(chan os.Signal, 128)
	signal.Notify(raw, standardSignals()...)
	go signal.Notify(raw, realtimeSignals()...)
	r, err := reaper.New(log)
	if err != nil {
		signal.Stop(raw)
		return nil, err
	}
	s.raw = raw
	go s.intake(raw)
	s.Reaper = r
	return s, nil
}

// Adopt and HasChildren make the Supervisor an engine.Host.
func (s *Supervisor) Adopt(pid int) *reaper.Process { return s.Reaper.Adopt(pid) }
func (s *Supervisor) HasChildren() bool             { return s.Reaper.HasChildren() }

// Close stops signal delivery and the reaper. stasis itself does not call it
// on its way out: unregistering every signal costs milliseconds, and exit
// ends it all anyway. Tests that run a Supervisor in-process do.
func (s *Supervisor) Close() {
	signal.Stop(s.raw)
	s.Reaper.Close()
}

// intake receives every signal as it arrives and passes it on to whichever
// phase reads sigs. A SIGTERM or SIGINT begins the stop right here, so the
// stop timeout runs from the signal's arrival, and a phase that does not
// read signals (a restore, an image check) still learns of it through
// StopRequested, whatever else stasis is busy with.
func (s *Supervisor) intake(raw <-chan os.Signal) {
	for sig := range raw {
		n := sig.(syscall.Signal)
		began := (n == unix.SIGTERM || n == unix.SIGINT) && s.beginStop(n)
		s.sigs <- sig
		if began {
			s.log.Info("stopping", "signal", SignalName(n), "stop_timeout", s.cfg.StopTimeout)
		}
	}
}

// Start starts cmd through the reaper, mapping exec failures to StartError.
func (s *Supervisor) Start(cmd *exec.Cmd) (*reaper.Process, error) {
	if cmd.Err != nil {
		return nil, &StartError{Argv0: cmd.Args[0], Err: cmd.Err}
	}
	p, err := s.Reaper.Start(cmd)
	if err != nil {
		return nil, &StartError{Argv0: cmd.Args[0], Err: err}
	}
	return p, nil
}

// Run is the plain init: start cmd, forward signals until it exits, clean up
// what it left behind, and return its end as *ExitError (nil never: even
// status 0 is an *ExitError with Code 0).
func (s *Supervisor) Run(ctx context.Context, cmd *exec.Cmd) error {
	p, err := s.Start(cmd)
	if err != nil {
		return err
	}
	name := filepath.Base(cmd.Args[0])
	s.log.Info("started", "cmd", name, "pid", p.Pid)
	s.State.running(p.Pid)
	ws := s.Supervise(ctx, p)
	s.State.setPhase(PhaseStopping)
	s.log.Info("exited", "cmd", name, "pid", p.Pid, "status", reaper.Describe(ws))
	s.Cleanup()
	return &ExitError{Name: name, Status: ws}
}

// Supervise forwards signals to p until it has been reaped and returns its
// wait status. A SIGTERM or SIGINT starts the stop timeout, after which p gets
// SIGKILL. When ctx ends, p is stopped the same way.
func (s *Supervisor) Supervise(ctx context.Context, p *reaper.Process) unix.WaitStatus {
	ws, _ := s.superviseUntil(ctx, p, nil)
	return ws
}

// superviseUntil is Supervise that also returns, with detached true, when
// detach is closed: during a dump no signal may reach the frozen JVM, or it
// would be captured in the image and delivered after every restore. Signals
// that arrive meanwhile wait in the channel.
func (s *Supervisor) superviseUntil(ctx context.Context, p *reaper.Process, detach <-chan struct{}) (ws unix.WaitStatus, detached bool) {
	var kill <-chan time.Time
	if s.Stopping() {
		kill = s.killTimer()
	}
	ctxDone, stopped := ctx.Done(), s.StopRequested()
	for {
		select {
		case <-p.Done():
			return p.Status(), false
		case <-detach:
			return 0, true
		case <-stopped:
			// The stop timeout runs from the signal's arrival, even before
			// the signal itself is read below.
			stopped = nil
			if kill == nil {
				kill = s.killTimer()
			}
		case sig := <-s.sigs:
			if k := s.forward(p, sig.(syscall.Signal)); k != nil && kill == nil {
				kill = k
			}
		case <-ctxDone:
			ctxDone = nil
			s.beginStop(unix.SIGTERM)
			s.send(p, s.cfg.StopSignal)
			if kill == nil {
				kill = s.killTimer()
			}
		case <-kill:
			s.log.Warn("still running after the stop timeout: sending SIGKILL", "pid", p.Pid, "stop_timeout", s.cfg.StopTimeout)
			s.send(p, unix.SIGKILL)
			kill = nil
		}
	}
}

// forward passes sig on to p and returns the kill timer when sig begins a stop.
func (s *Supervisor) forward(p *reaper.Process, sig syscall.Signal) <-chan time.Time {
	if !forwardable(sig) {
		return nil
	}
	out := sig
	stop := sig == unix.SIGTERM || sig == unix.SIGINT
	if sig == unix.SIGTERM {
		out = s.cfg.StopSignal
	}
	s.log.Debug("forwarding signal", "signal", SignalName(out), "pid", p.Pid)
	s.send(p, out)
	if !stop {
		return nil
	}
	s.beginStop(sig) // intake began it already, unless a test feeds sigs directly
	return s.killTimer()
}

// beginStop records the stop once, with the signal that began it, and
// reports whether this call began it.
func (s *Supervisor) beginStop(sig syscall.Signal) bool {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopping {
		return false
	}
	s.stopping, s.stopAt, s.stopSig = true, time.Now(), sig
	close(s.stopCh)
	return true
}

// stopSignal is the signal that began the stop (SIGTERM when ctx ended it).
func (s *Supervisor) stopSignal() syscall.Signal {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	return s.stopSig
}

// sinceStop is how long ago the stop began, and whether it did.
func (s *Supervisor) sinceStop() (time.Duration, bool) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	return time.Since(s.stopAt), s.stopping
}

// killTimer fires StopTimeout after the stop began, however many phases the
// stop crosses.
func (s *Supervisor) killTimer() <-chan time.Time {
	since, _ := s.sinceStop()
	return time.After(s.cfg.StopTimeout - since)
}

// Stopping reports whether stasis was asked to stop (SIGTERM, SIGINT).
func (s *Supervisor) Stopping() bool {
	_, stopping := s.sinceStop()
	return stopping
}

// StopRequested is closed when stasis is asked to stop.
func (s *Supervisor) StopRequested() <-chan struct{} { return s.stopCh }

func (s *Supervisor) send(p *reaper.Process, sig syscall.Signal) {
	err := p.Signal(sig)
	switch {
	case err == nil, errors.Is(err, os.ErrProcessDone):
		// ESRCH: it exited between the signal and our look; the reaper will tell.
	default:
		s.log.Warn("cannot forward signal", "signal", SignalName(sig), "pid", p.Pid, "err", err)
	}
}
