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
	// LaunchArgv is the checkpoint run's command line, built once before
	// the supervisor starts when the plan checkpoints (building it may run
	// the JDK, which must not compete with the reaper); nil otherwise.
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
	// Image is the image directory's manifest, read once (ReadImage) for
	// the plan and the restore's check; ImageErr why there is none
	// (image.ErrNoImage: the directory holds no manifest).
	Image     *image.Manifest
	ImageErr  error
	imageRead bool
}

// ReadImage reads the image directory's manifest, once, where the mode may
// restore one.
func (ph *Phases) ReadImage() {
	if ph.imageRead || ph.Mode == "run" || ph.Mode == "checkpoint" {
		return
	}
	ph.imageRead = true
	ph.Image, ph.ImageErr = image.Read(ph.Opt.Dir)
}

// PlanInput gathers the facts the plan decides this start from.
func (ph *Phases) PlanInput() PlanInput {
	ph.ReadImage()
	in := PlanInput{Mode: ph.Mode, NoTrigger: ph.Spec.Empty(), OnRestoreFailure: ph.OnRestoreFailure,
		ImageDir: ph.Opt.Dir, ImageErr: ph.ImageErr, EngineErr: cannotCheckpoint(ph.Engine, ph.EngineErr)}
	return in
}

// cannotCheckpoint is PlanInput.EngineErr: the resolution's error, or no
// engine at all.
func cannotCheckpoint(eng engine.Engine, err error) error {
	if err == nil && eng == nil {
		return errors.New("no checkpoint engine")
	}
	return err
}

// restoreInput is what the restore's check compares the image with.
func (ph *Phases) restoreInput() RestoreInput {
	ph.ReadImage()
	return RestoreInput{Dir: ph.Opt.Dir, Manifest: ph.Image, ReadErr: ph.ImageErr, Engine: ph.Engine,
		FromImage: ph.EngineFromImage, Command: ph.Command, Environ: ph.Environ, EnvMatch: ph.EnvMatch,
		CRIU: ph.Opt.CRIU, Runtime: ph.Runtime, ChecksumsDuringCRIU: ph.ChecksumsDuringCRIU}
}

// CheckpointError makes stasis exit 3.
type CheckpointError struct{ Err error }

func (e *CheckpointError) Error() string { return "checkpoint failed: " + e.Err.Error() }
func (e *CheckpointError) Unwrap() error { return e.Err }

// RestoreError makes stasis exit 4 (with STASIS_ON_RESTORE_FAILURE=fail).
type RestoreError struct{ Err error }

func (e *RestoreError) Error() string { return "restore failed: " + e.Err.Error() }
func (e *RestoreError) Unwrap() error { return e.Err }

// RunPhases is the phase machine: Plan decides what this start does from
// the mode, the image directory and the engine, and RunPhases carries it
// out, returning the outcome for exitCode.
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
	in := ph.PlanInput()
	return s.carryOut(ctx, ph, in, Plan(in))
}

// carryOut does what d says. A restore that fails is planned again with its
// failure, which makes it a cold start or the end (exit 4).
func (s *Supervisor) carryOut(ctx context.Context, ph *Phases, in PlanInput, d Decision) error {
	s.State.update(func(st *Status) { st.Plan = &d })
	switch d.Action {
	case ActRun:
		return s.cold(ctx, ph, StartCold)
	case ActCheckpoint:
		if ph.Mode != "checkpoint" {
			s.log.Info("no image yet: this is the checkpoint run", "image_dir", ph.Opt.Dir)
		}
		return s.Checkpoint(ctx, ph)
	case ActRestore:
		err := s.Restore(ctx, ph)
		var re *RestoreError
		if !errors.As(err, &re) {
			return err
		}
		in.RestoreErr = re.Err
		return s.carryOut(ctx, ph, in, Plan(in))
	}
	switch {
	case d.Wants == ActCheckpoint && d.Action == ActFail:
		return &CheckpointError{Err: d.Cause}
	case d.Wants == ActCheckpoint:
		s.log.Warn("starting cold: cannot checkpoint here", "err", d.Cause)
	case d.Wants == ActCold:
		s.log.Info("starting cold: no image and no STASIS_CHECKPOINT_ON", "image_dir", ph.Opt.Dir)
	case d.Start == StartCold:
		// Not a failure: the image may not serve this environment.
		s.log.Warn("starting cold instead of restoring: "+d.Cause.Error(), "image_dir", ph.Opt.Dir)
	default:
		return s.restoreFailed(ctx, ph, d)
	}
	return s.cold(ctx, ph, StartCold)
}

// restoreFailed applies STASIS_ON_RESTORE_FAILURE, as the plan read it:
// cold starts the command normally, so the service still comes up; fail
// exits 4.
func (s *Supervisor) restoreFailed(ctx context.Context, ph *Phases, d Decision) error {
	s.State.update(func(st *Status) { st.RestoreError = d.Cause.Error() })
	if s.Stopping() {
		return s.stopped("after the restore failed")
	}
	if d.Action == ActFail {
		return &RestoreError{Err: d.Cause}
	}
	s.log.Error("restore failed, starting cold instead (STASIS_ON_RESTORE_FAILURE=cold)", "err", d.Cause)
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
