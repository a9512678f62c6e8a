package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"stasis/reaper"
	"stasis/stdio"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// Restore restores the image and supervises the restored JVM until it exits.
// Anything that fails before the restored JVM runs is a *RestoreError; after
// that, the JVM's end is the application's (*ExitError) and is never retried.
// A stop (SIGTERM, SIGINT) before the restored JVM runs ends the restore at
// once: CRIU and whatever it restored so far are not the application yet,
// and get SIGKILL.
func (s *Supervisor) Restore(ctx context.Context, ph *Phases) error {
	s.State.setPhase(PhaseRestoring)
	start := time.Now()
	eng, m, err := s.checkImageUnlessStopped(ph)
	if err != nil {
		return err
	}
	rp := &RestorePhases{CheckMS: time.Since(start).Milliseconds()}
	if !ph.Started.IsZero() {
		rp.StartupMS = start.Sub(ph.Started).Milliseconds()
	}
	criuStart := time.Now()
	p, set, err := s.restoreOnce(ctx, ph, eng, m, rp, false)
	if err != nil && errors.Is(err, engine.ErrKdatCache) && !s.Stopping() {
		// A wrong cache must not cost the restore: drop it, probe in full.
		s.log.Warn("the restore with CRIU's cached kernel probe failed: dropping the cache and retrying once with a full probe", "err", err)
		engine.DropKdat(kdatDir(ph), ph.Opt.CRIU)
		engine.DropKdat(filepath.Join(ph.StateDir, "kerndat"), ph.Opt.CRIU)
		rp.KdatRetried = true
		p, set, err = s.restoreOnce(ctx, ph, eng, m, rp, true)
	}
	if err != nil {
		return err
	}
	rp.CRIUMS = time.Since(criuStart).Milliseconds()
	ms := time.Since(start).Milliseconds()
	s.log.Info("restored", "pid", p.Pid, "engine", eng.Name(), "ms", ms, "startup_ms", rp.StartupMS, "check_ms", rp.CheckMS,
		"criu_ms", rp.CRIUMS, "checksums_ms", rp.VerifyMS, "checksums_during_criu", rp.VerifyHeld,
		"kerndat", rp.Kdat, "image_dir", ph.Opt.Dir)
	s.State.update(func(st *Status) {
		st.Phase, st.PID, st.Start, st.RestoreMS, st.Engine = PhaseRunning, p.Pid, StartRestored, ms, eng.Name()
		st.Restore = rp
	})
	s.watchReadiness(ctx, ph, start)
	// A stop that came as the restore finished reaches the JVM, which is the
	// application now: Supervise forwards the signal waiting for it.
	ws := s.Supervise(ctx, p)
	s.State.setPhase(PhaseStopping)
	s.log.Info("exited", "pid", p.Pid, "status", reaper.Describe(ws))
	_ = set.Close(s.drainTimeout())
	s.Cleanup()
	return &ExitError{Name: "java", Status: ws}
}

// restoreOnce gives the restored JVM new stdio pipes and runs the engine's
// restore. Whatever a failed attempt left behind is killed before it
// returns, so a retry finds the JVM's PID free.
func (s *Supervisor) restoreOnce(ctx context.Context, ph *Phases, eng engine.Engine, m *image.Manifest, rp *RestorePhases, noKdat bool) (*reaper.Process, *stdio.Set, error) {
	// Plain pipes: criu reconnects them to the restored JVM (--inherit-fd),
	// a restoring launcher hands its own stdio on.
	out := &engine.Output{}
	set, err := stdio.Pipes(stdio.Options{Stdout: os.Stdout, Stderr: os.Stderr, Tap: func(_, line string) { out.Feed(line) }})
	if err != nil {
		return nil, nil, &RestoreError{Err: err}
	}
	p, err := s.restoreUnlessStopped(ctx, ph, eng, m, set, out, rp, noKdat)
	if err != nil {
		// Half-restored tasks may hold the pipes and keep writing CRIU's
		// log: they go first, then what they wrote is forwarded.
		s.killLeftovers()
		_ = set.Close(time.Second)
		if s.Stopping() {
			return nil, nil, s.stopped("during the restore")
		}
		return nil, nil, &RestoreError{Err: err}
	}
	return p, set, nil
}

// drainTimeout is how long the JVM's last output may take to reach stasis's
// stdout once it exited: a second, unless a stop's timeout has run out
// already (the JVM needed SIGKILL), when a blocked stdout must not delay the
// exit further.
func (s *Supervisor) drainTimeout() time.Duration {
	if since, stopping := s.sinceStop(); stopping && since >= s.cfg.StopTimeout {
		return 100 * time.Millisecond
	}
	return time.Second
}

// checkImageUnlessStopped is checkImage, abandoned when a stop is requested:
// reading a large (or hung) image must not delay the stop. The check only
// reads, so leaving it running until stasis exits harms nothing.
func (s *Supervisor) checkImageUnlessStopped(ph *Phases) (engine.Engine, *image.Manifest, error) {
	type result struct {
		eng engine.Engine
		m   *image.Manifest
		err error
	}
	done := make(chan result, 1)
	go func() {
		eng, m, err := s.checkImage(ph)
		done <- result{eng, m, err}
	}()
	select {
	case r := <-done:
		if s.Stopping() {
			return nil, nil, s.stopped("during the image check")
		}
		if r.err != nil {
			return nil, nil, &RestoreError{Err: r.err}
		}
		return r.eng, r.m, nil
	case <-s.StopRequested():
		return nil, nil, s.stopped("during the image check")
	}
}

// restoreUnlessStopped runs the engine's restore, bounded by
// STASIS_RESTORE_TIMEOUT and cancelled by a stop request.
func (s *Supervisor) restoreUnlessStopped(ctx context.Context, ph *Phases, eng engine.Engine, m *image.Manifest, set *stdio.Set, out *engine.Output, rp *RestorePhases, noKdat bool) (*reaper.Process, error) {
	rctx, cancel := context.WithTimeout(ctx, ph.RestoreTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.StopRequested():
			cancel()
		case <-rctx.Done():
		}
	}()
	job := &engine.RestoreJob{Options: ph.Opt, Host: s, Java: ph.Java, PID: m.PID, LaunchFlags: m.LaunchFlags, Stdio: set,
		WorkDir: ph.StateDir, StateDir: ph.StateDir, PIDFile: filepath.Join(ph.StateDir, "restore.pid"), Log: s.log, Output: out,
		KdatDir: kdatDir(ph), KdatSave: filepath.Join(ph.StateDir, "kerndat"), NoKdat: noKdat}
	if eng.FIFOStdio() && ph.ChecksumsDuringCRIU {
		// CRIU restores meanwhile, mostly on one core: the checksums leave it one.
		job.Verify = func() error { return m.VerifySumsOn(ph.Opt.Dir, runtime.GOMAXPROCS(0)-1) }
	}
	if m.StdioPipes != nil {
		job.StdioPipes = [2]uint64{m.StdioPipes.Stdout, m.StdioPipes.Stderr}
	}
	p, err := eng.Restore(rctx, job)
	rp.Kdat, rp.VerifyMS, rp.VerifyHeld = job.Kdat, job.VerifyMS, job.VerifyHeld
	return p, err
}

// kdatDir is where stasis keeps CRIU's kernel probe (engine/kdat.go): in
// the image directory, which the checkpoint run writes and every restore
// reads (from an image layer, a volume or a Kubernetes volume alike; the
// state directory is often a fresh tmpfs). A dot directory: no manifest
// lists it, and its key, not a checksum, says whether it may be used.
func kdatDir(ph *Phases) string {
	if ph.Opt.Dir == "" {
		return ""
	}
	return filepath.Join(ph.Opt.Dir, KdatDirName)
}

// KdatDirName is the kerndat cache's directory inside the image directory.
const KdatDirName = ".stasis-kdat"

// stopped ends a start that was asked to stop before the application ran:
// nothing more is started, and stasis exits 128+N for the signal N that asked
// (143 for SIGTERM, 130 for SIGINT), as a stopped application would.
func (s *Supervisor) stopped(when string) error {
	sig := s.stopSignal()
	s.log.Info("stopped "+when+", before the application ran", "signal", SignalName(sig))
	return &ExitError{Name: "stasis", Status: unix.WaitStatus(sig)}
}

// checkImage decides whether the image can be restored here
// (CheckRestorable, which inspect and the doctor ask too), stopping at the
// first failure.
func (s *Supervisor) checkImage(ph *Phases) (engine.Engine, *image.Manifest, error) {
	r := CheckRestorable(ph.restoreInput())
	if len(r.EnvDiff) > 0 {
		// By name only: the values may be secrets.
		s.log.Info("the environment differs from the checkpoint's: "+envSeen(r.Engine), "names", strings.Join(r.EnvDiff, ","))
	}
	if err := r.Err(); err != nil {
		return nil, nil, err
	}
	return r.Engine, ph.Image, nil
}

// EnvChangedError is a restore not made because variables named in
// STASIS_RESTORE_ENV_MATCH differ from the checkpoint's: the start is cold,
// whatever STASIS_ON_RESTORE_FAILURE says.
type EnvChangedError struct{ Names []string }

func (e *EnvChangedError) Error() string {
	if e.Names == nil {
		return "STASIS_RESTORE_ENV_MATCH is set but the image records no environment (an older stasis made it)"
	}
	return "STASIS_RESTORE_ENV_MATCH: " + strings.Join(e.Names, ", ") + " differ from the checkpoint's"
}

// readyPoll is how often watchReadiness probes: the restored JVM answers
// within milliseconds, so the probe interval (50 ms by default) would
// round the phase up.
const readyPoll = 2 * time.Millisecond

// watchReadiness logs and records when the restored service first answers
// its readiness probe (the http or tcp probe of STASIS_CHECKPOINT_ON),
// counted from the start of the restore phase. Without such a probe there
// is no such phase; a service that never answers is the health check's
// business, so the watch gives up silently after a minute or at a stop.
func (s *Supervisor) watchReadiness(ctx context.Context, ph *Phases, start time.Time) {
	probe := ph.Spec.HTTPProbe()
	if probe == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for ctx.Err() == nil && !s.Stopping() {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			err := probe.ProbeOnce(pctx)
			pcancel()
			if err == nil {
				ms := time.Since(start).Milliseconds()
				s.State.update(func(st *Status) {
					if st.Restore != nil {
						st.Restore.ReadyMS = ms
					}
				})
				s.log.Info("ready after the restore", "ms", ms, "probe", probe.String())
				return
			}
			time.Sleep(readyPoll)
		}
	}()
}
