package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"stasis/reaper"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
	"stasis/triggers"
)

// Phases is the configuration of the checkpoint and restore phases.
type Phases struct {
	Mode            string        // auto, checkpoint, restore, run
	Engine          engine.Engine // nil in run mode, or when none could be chosen
	EngineErr       error         // why this start cannot checkpoint (auto mode then starts cold)
	EngineFromImage bool          // STASIS_ENGINE=auto: at restore, the image's manifest names the engine
	EngineWhy       string        // STASIS_ENGINE=auto: why this engine was chosen
	Opt             engine.Options
	Command         []string
	// LaunchArgv is the checkpoint run's command line, built before the
	// supervisor starts when this start may checkpoint (building it may run
	// the JDK once, which must not compete with the reaper); nil otherwise.
	LaunchArgv        []string
	Java              string // the java executable of Command, for restoring launchers
	JavaVersion       string // from the JDK's release file, for the manifest
	Spec              triggers.Spec
	Warmup            triggers.WarmupConfig
	CheckpointTimeout time.Duration
	RestoreTimeout    time.Duration
	ProbeInterval     time.Duration
	GC                bool
	MinPID            int
	OnRestoreFailure  string // cold or fail
	// ChecksumsDuringCRIU (STASIS_RESTORE_CHECKSUMS=during): the image's
	// checksums are checked while CRIU restores, the restored JVM held at
	// pre-resume until they pass, not before CRIU starts. Measured on 2
	// cores it gains nothing on the host and loses 20 ms in Docker (CRIU
	// and the checksums compete for fuse-overlayfs): off by default.
	ChecksumsDuringCRIU bool
	StateDir            string
	Runtime             string // the container engine, for the fix lines of a preflight (engine.DetectRuntime)
	Health              string // the probe `stasis healthcheck` runs, for status
	Version             string
	ColdAttr            func() *syscall.SysProcAttr // the process attributes of a plain start
	// Environ is stasis's environment, which the JVM inherits: the
	// manifest records it (names and hashed values) and a restore compares.
	Environ map[string]string
	// Started is when stasis's main began: a restore reports the time from
	// there to its own start (stasis's start-up). Zero: not reported.
	Started time.Time
	// EnvMatch (STASIS_RESTORE_ENV_MATCH) names variables whose value must
	// be the checkpoint's: otherwise the start is cold instead of restored.
	EnvMatch []string
}

// CheckpointError makes stasis exit 3.
type CheckpointError struct{ Err error }

func (e *CheckpointError) Error() string { return "checkpoint failed: " + e.Err.Error() }
func (e *CheckpointError) Unwrap() error { return e.Err }

// RestoreError makes stasis exit 4 (with STASIS_ON_RESTORE_FAILURE=fail).
type RestoreError struct{ Err error }

func (e *RestoreError) Error() string { return "restore failed: " + e.Err.Error() }
func (e *RestoreError) Unwrap() error { return e.Err }

// RunPhases is the phase machine: it picks what this start does from the mode
// and the image directory, and returns the outcome for exitCode.
func (s *Supervisor) RunPhases(ctx context.Context, ph *Phases) error {
	name := ""
	if ph.Engine != nil {
		name = ph.Engine.Name()
	}
	s.State.Configure(ph.Mode, name, ph.Health)
	if ph.EngineWhy != "" {
		s.log.Info("engine chosen", "engine", name, "why", ph.EngineWhy)
	}
	s.manualWanted = ph.Spec.IsManual()
	switch ph.Mode {
	case "run":
		return s.cold(ctx, ph, StartCold)
	case "checkpoint":
		return s.Checkpoint(ctx, ph)
	case "restore":
		return s.restoreOrFallBack(ctx, ph)
	}
	return s.auto(ctx, ph)
}

// auto restores when the directory holds an image, checkpoints when it holds
// none and a trigger is configured (the first start), and otherwise starts
// cold, saying why.
func (s *Supervisor) auto(ctx context.Context, ph *Phases) error {
	_, err := image.Read(ph.Opt.Dir)
	switch {
	case err == nil:
		return s.restoreOrFallBack(ctx, ph)
	case !errors.Is(err, image.ErrNoImage):
		return s.restoreFailed(ctx, ph, err)
	case ph.Spec.Empty():
		s.log.Info("starting cold: no image and no STASIS_CHECKPOINT_ON", "image_dir", ph.Opt.Dir)
		return s.cold(ctx, ph, StartCold)
	case ph.Engine == nil || ph.EngineErr != nil:
		s.log.Warn("starting cold: cannot checkpoint here", "err", ph.EngineErr)
		return s.cold(ctx, ph, StartCold)
	}
	s.log.Info("no image yet: this is the checkpoint run", "image_dir", ph.Opt.Dir)
	return s.Checkpoint(ctx, ph)
}

func (s *Supervisor) restoreOrFallBack(ctx context.Context, ph *Phases) error {
	err := s.Restore(ctx, ph)
	var re *RestoreError
	if errors.As(err, &re) {
		return s.restoreFailed(ctx, ph, re.Err)
	}
	return err
}

// restoreFailed applies STASIS_ON_RESTORE_FAILURE: cold starts the command
// normally, so the service still comes up; fail exits 4.
func (s *Supervisor) restoreFailed(ctx context.Context, ph *Phases, cause error) error {
	var env *EnvChangedError
	if errors.As(cause, &env) {
		// Not a failure: the image may not serve this environment.
		s.log.Warn("starting cold instead of restoring: "+env.Error(), "image_dir", ph.Opt.Dir)
		return s.cold(ctx, ph, StartCold)
	}
	s.State.update(func(st *Status) { st.RestoreError = cause.Error() })
	if s.Stopping() {
		return s.stopped("after the restore failed")
	}
	if ph.OnRestoreFailure == "fail" {
		return &RestoreError{Err: cause}
	}
	s.log.Error("restore failed, starting cold instead (STASIS_ON_RESTORE_FAILURE=cold)", "err", cause)
	return s.cold(ctx, ph, StartColdFailure)
}

// cold starts the command as it is, with stasis's own stdio, as a plain init.
func (s *Supervisor) cold(ctx context.Context, ph *Phases, how string) error {
	if s.Stopping() {
		// Never start the JVM after a stop request: it would run on until a
		// second signal.
		return s.stopped("before the start")
	}
	s.State.update(func(st *Status) { st.Start = how })
	cmd := exec.Command(ph.Command[0], ph.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if ph.ColdAttr != nil {
		cmd.SysProcAttr = ph.ColdAttr()
	}
	return s.Run(ctx, cmd)
}

// stopAndReap ends a JVM that must not go on (a failed checkpoint): the
// stop signal, SIGKILL after the stop timeout.
func (s *Supervisor) stopAndReap(p *reaper.Process) {
	select {
	case <-p.Done():
		return
	default:
	}
	s.send(p, s.cfg.StopSignal)
	select {
	case <-p.Done():
	case <-time.After(s.cfg.StopTimeout):
		s.send(p, 9)
		<-p.Done()
	}
}

// runner runs a warm-up command through the reaper, with stasis's stdio.
func (s *Supervisor) runner(ctx context.Context, argv []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	p, err := s.Start(cmd)
	if err != nil {
		return 0, err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		s.send(p, 9)
		<-p.Done()
		return reaper.ExitCode(p.Status()), fmt.Errorf("warm-up command %s: %w", argv[0], ctx.Err())
	}
	return reaper.ExitCode(p.Status()), nil
}
