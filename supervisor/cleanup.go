package supervisor

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// cleanupPoll is how often Cleanup looks whether descendants are gone.
const cleanupPoll = 5 * time.Millisecond

// Cleanup ends the descendants that the main child left behind: the stop
// signal first, SIGKILL after the stop timeout, and it returns once every one
// of them has been reaped, so stasis never exits with work half-done. Signals
// received meanwhile are not forwarded: there is no main child any more.
func (s *Supervisor) Cleanup() {
	// HasChildren is one syscall; reading /proc is only worth it when
	// something is left (the common case for a JVM is nothing).
	if !s.Reaper.HasChildren() {
		return
	}
	pids := descendants()
	sig := s.cfg.StopSignal
	if since, stopping := s.sinceStop(); stopping && since >= s.cfg.StopTimeout {
		sig = unix.SIGKILL
	}
	s.log.Info("ending processes left behind", "count", len(pids), "signal", SignalName(sig))
	signalAll(pids, sig)
	deadline := time.Now().Add(s.cfg.StopTimeout)
	for {
		if !s.Reaper.HasChildren() {
			return
		}
		pids = descendants()
		if sig != unix.SIGKILL && time.Now().After(deadline) {
			sig = unix.SIGKILL
			s.log.Warn("processes left behind survived the stop timeout: sending SIGKILL", "count", len(pids))
		}
		if sig == unix.SIGKILL {
			signalAll(pids, sig) // new ones may have been forked
		}
		s.drainSignals()
		time.Sleep(cleanupPoll)
	}
}

// killLeftovers ends at once what a failed or stopped restore left behind:
// CRIU, and tasks it half-restored, are not the application, so they get
// SIGKILL without the stop timeout (a half-restored task was seen writing
// CRIU's log on to 0.8 GB). It returns once every one of them is reaped.
// Signals received meanwhile stay queued: they are for what comes next.
func (s *Supervisor) killLeftovers() {
	if !s.Reaper.HasChildren() {
		return
	}
	s.log.Info("killing what the restore left behind", "count", len(descendants()))
	for s.Reaper.HasChildren() {
		signalAll(descendants(), unix.SIGKILL) // new ones may have been forked
		time.Sleep(cleanupPoll)
	}
}

func (s *Supervisor) drainSignals() {
	for {
		select {
		case <-s.sigs:
		default:
			return
		}
	}
}

func signalAll(pids []int, sig unix.Signal) {
	if os.Getpid() == 1 {
		// As PID 1, kill(-1) reaches every other process of the namespace,
		// including those not yet reparented to us.
		_ = unix.Kill(-1, sig)
		return
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, sig) // ESRCH: already gone
	}
}
