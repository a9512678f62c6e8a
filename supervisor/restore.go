package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	set, err := restoreStdio(eng, ph.Opt.Dir)
	if err != nil {
		return &RestoreError{Err: err}
	}
	rctx, cancel := context.WithTimeout(ctx, ph.RestoreTimeout)
	defer cancel()
	opt := ph.Opt
	p, err := eng.Restore(rctx, &engine.RestoreJob{Options: opt, Host: s, Java: ph.Java, PID: m.PID,
		Stdio: set, PIDFile: filepath.Join(ph.StateDir, "restore.pid"), Log: s.log})
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
// what the engine needs for a restore (criu, capabilities: preflight).
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
	if err := s.compareEnv(eng, m, ph); err != nil {
		return nil, nil, err
	}
	if err := m.Verify(ph.Opt.Dir); err != nil {
		return nil, nil, err
	}
	if eng.PreservesPIDs() {
		free, who, err := pidspace.Holder(m.PID)
		if err != nil {
			return nil, nil, err
		}
		if !free {
			return nil, nil, fmt.Errorf("the JVM's pid %d is taken: %s", m.PID, who)
		}
	}
	if eng.FIFOStdio() && ph.Opt.CRIU == "" {
		return nil, nil, errors.New("no criu found (set STASIS_CRIU)")
	}
	if err := preflight(eng, engine.PhaseRestore, m, ph); err != nil {
		return nil, nil, err
	}
	return eng, m, nil
}

// restoreStdio opens the FIFOs before CRIU runs, so a reader exists when it
// reconnects the restored JVM's writers; the crac launcher gets pipes.
func restoreStdio(eng engine.Engine, dir string) (*stdio.Set, error) {
	opt := stdio.Options{Stdout: os.Stdout, Stderr: os.Stderr}
	if eng.FIFOStdio() {
		return stdio.FIFOs(dir, opt)
	}
	return stdio.Pipes(opt)
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

// compareEnv logs which variables differ from the checkpoint's, by name
// only (their values may be secrets), and refuses the restore when one of
// them is named in STASIS_RESTORE_ENV_MATCH.
func (s *Supervisor) compareEnv(eng engine.Engine, m *image.Manifest, ph *Phases) error {
	diff, known := m.EnvDiff(ph.Environ)
	if !known {
		if len(ph.EnvMatch) > 0 {
			return &EnvChangedError{}
		}
		return nil
	}
	if len(diff) > 0 {
		sees := "the restored JVM keeps the checkpoint's values"
		if eng.RestoreSeesNewEnv() {
			sees = "the restored JVM sees this start's values (" + eng.Name() + " hands them over)"
		}
		s.log.Info("the environment differs from the checkpoint's: "+sees, "names", strings.Join(diff, ","))
	}
	var must []string
	for _, name := range ph.EnvMatch {
		if slices.Contains(diff, name) {
			must = append(must, name)
		}
	}
	if len(must) > 0 {
		return &EnvChangedError{Names: must}
	}
	return nil
}
