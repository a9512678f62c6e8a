package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"stasis/pidspace"
	"stasis/reaper"
	"stasis/stdio"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// Restore restores the image and supervises the restored JVM until it exits.
// Anything that fails before the restored JVM runs is a *RestoreError; after
// that, the JVM's end is the application's (*ExitError) and is never retried.
func (s *Supervisor) Restore(ctx context.Context, ph *Phases) error {
	s.State.setPhase(PhaseRestoring)
	start := time.Now()
	eng, m, err := s.checkImage(ph)
	if err != nil {
		return &RestoreError{Err: err}
	}
	out := &engine.Output{}
	set, err := restoreStdio(eng, ph.Opt.Dir, out)
	if err != nil {
		return &RestoreError{Err: err}
	}
	rctx, cancel := context.WithTimeout(ctx, ph.RestoreTimeout)
	defer cancel()
	opt := ph.Opt
	p, err := eng.Restore(rctx, &engine.RestoreJob{Options: opt, Host: s, Java: ph.Java, PID: m.PID, LaunchFlags: m.LaunchFlags,
		Stdio: set, PIDFile: filepath.Join(ph.StateDir, "restore.pid"), StateDir: ph.StateDir, Log: s.log, Output: out})
	if err != nil {
		_ = set.Close(time.Second)
		s.Cleanup()
		return &RestoreError{Err: err}
	}
	ms := time.Since(start).Milliseconds()
	s.log.Info("restored", "pid", p.Pid, "engine", eng.Name(), "ms", ms, "image_dir", opt.Dir)
	s.State.update(func(st *Status) {
		st.Phase, st.PID, st.Start, st.RestoreMS, st.Engine = PhaseRunning, p.Pid, StartRestored, ms, eng.Name()
	})
	ws := s.Supervise(ctx, p)
	s.State.setPhase(PhaseStopping)
	s.log.Info("exited", "pid", p.Pid, "status", reaper.Describe(ws))
	_ = set.Close(time.Second)
	s.Cleanup()
	return &ExitError{Name: "java", Status: ws}
}

// checkImage decides whether the image can be restored here: a manifest made
// for this command and engine, files that match it, the JVM's PID free, and
// criu present where the engine needs it.
func (s *Supervisor) checkImage(ph *Phases) (engine.Engine, *image.Manifest, error) {
	m, err := image.Read(ph.Opt.Dir)
	if err != nil {
		return nil, nil, err
	}
	eng := ph.Engine
	if ph.EngineFromImage || eng == nil {
		// STASIS_ENGINE=auto: the image says which engine made it (a Warp
		// image restores with warp even where crac would be detected).
		if eng = engine.New(m.Engine); eng == nil {
			return nil, nil, fmt.Errorf("the image names an unknown engine %q", m.Engine)
		}
	}
	if err := m.Matches(eng.Name(), ph.Command); err != nil {
		return nil, nil, err
	}
	if eng.Facts().CPUBound {
		// The runtime does not compare CPU features (CRaC does, with
		// --cpu-cap=none and its own check): a JIT's code for a missing
		// feature would crash later with SIGILL.
		host, err := image.HostCPU()
		if err != nil {
			return nil, nil, err
		}
		if err := m.CheckCPU(host); err != nil {
			return nil, nil, err
		}
	}
	if err := m.Verify(ph.Opt.Dir); err != nil {
		return nil, nil, err
	}
	if eng.Facts().PreservesPIDs {
		free, who, err := pidspace.Holder(m.PID)
		if err != nil {
			return nil, nil, err
		}
		if !free {
			return nil, nil, fmt.Errorf("the JVM's pid %d is taken: %s", m.PID, who)
		}
	}
	if eng.Facts().CRIU == engine.CRIUByStasis && ph.Opt.CRIU == "" {
		return nil, nil, errors.New("no criu found (set STASIS_CRIU)")
	}
	return eng, m, nil
}

// restoreStdio opens the FIFOs before CRIU runs, so a reader exists when it
// reconnects the restored JVM's writers; the crac launcher gets pipes.
func restoreStdio(eng engine.Engine, dir string, out *engine.Output) (*stdio.Set, error) {
	opt := stdio.Options{Stdout: os.Stdout, Stderr: os.Stderr, Tap: func(_, line string) { out.Feed(line) }}
	if eng.FIFOStdio() {
		return stdio.FIFOs(dir, opt)
	}
	return stdio.Pipes(opt)
}
