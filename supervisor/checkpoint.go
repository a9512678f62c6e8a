package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"stasis/pidspace"
	"stasis/reaper"
	"stasis/stdio"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
	"stasis/triggers"
)

// Checkpoint is the checkpoint run: burn PIDs, launch the JVM with the
// engine's flags and checkpoint-safe stdio, wait for readiness, warm up,
// checkpoint, verify, write the manifest last. It returns nil (exit 0) only
// with a complete image; otherwise a *CheckpointError (exit 3), with no
// restorable image left.
func (s *Supervisor) Checkpoint(ctx context.Context, ph *Phases) error {
	if ph.Engine == nil || ph.EngineErr != nil {
		return &CheckpointError{Err: ph.EngineErr}
	}
	ck := &checkpointRun{s: s, ph: ph, eng: ph.Engine}
	err := ck.run(ctx)
	if err == nil {
		return nil
	}
	ck.abandon()
	if s.Stopping() && ck.jvm != nil {
		// Stopped on request (docker stop during the checkpoint run): no
		// image, and the JVM's own status, as for any stopped service.
		return &ExitError{Name: "java", Status: ck.jvm.Status()}
	}
	return &CheckpointError{Err: err}
}

type checkpointRun struct {
	s     *Supervisor
	ph    *Phases
	eng   engine.Engine
	jvm   *reaper.Process
	stdio *stdio.Set
	// jvmCaps is the JVM's permitted set just before the checkpoint.
	jvmCaps []string
	// supervision runs in the background until the dump begins
	detach   chan struct{}
	detached chan struct{}
	output   engine.Output // the JVM's own lines about its engine
	dumped   int           // the PID the image restores, when not the launcher's
	flags    []string      // the flags the engine added after java
	exited   chan struct{}
	ws       unix.WaitStatus
}

func (ck *checkpointRun) run(ctx context.Context) error {
	dir := ck.ph.Opt.Dir
	if cmd := ck.ph.Warmup.Cmd; len(cmd) > 0 {
		// Before anything starts, not after a minute of waiting for readiness.
		if _, err := exec.LookPath(cmd[0]); err != nil {
			return fmt.Errorf("STASIS_WARMUP_CMD: %w", err)
		}
	}
	if err := preflight(ck.eng, engine.PhaseCheckpoint, nil, ck.ph.Command, ck.ph.Runtime, ck.ph.Opt.CRIU); err != nil {
		return err
	}
	if err := prepareDir(dir, ck.eng); err != nil {
		return err
	}
	waiter := triggers.NewWaiter(ck.ph.Spec)
	launched, err := ck.launch(waiter)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ck.ph.CheckpointTimeout)
	defer cancel()
	readyAt, warmedAt, err := ck.awaitReadyAndWarm(ctx, waiter, launched)
	if err != nil {
		return err
	}
	dumped, err := ck.dump(ctx)
	if err != nil {
		return err
	}
	return ck.finish(launched, readyAt, warmedAt, dumped)
}

// prepareDir removes an earlier image's manifest first, then its files (only
// those the engine creates: the rest of the directory is the user's): from
// here on, the directory is not restorable until the new manifest is
// written. The directory is made private (0700) before the JVM's memory is
// written into it.
func prepareDir(dir string, eng engine.Engine) error {
	if err := image.Invalidate(dir, eng.ImageFiles(), false); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create image directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make image directory private: %w", err)
	}
	return nil
}

// launch moves the next PID past STASIS_MIN_PID (CRIU restores the JVM with
// its PID, which must be free in every later container) and starts the JVM.
func (ck *checkpointRun) launch(waiter *triggers.Waiter) (time.Time, error) {
	s, ph := ck.s, ck.ph
	// Built once, before the supervisor started (engine.Resolution.Launch):
	// building it may run the JDK, which must not compete with the reaper.
	argv := ph.LaunchArgv
	if argv == nil {
		return time.Time{}, errors.New("no checkpoint command line was built for this start")
	}
	if n := len(argv) - len(ph.Command); n > 0 {
		ck.flags = argv[1 : 1+n] // the engine's flags go right after java
	}
	if ck.eng.Facts().PreservesPIDs {
		m, err := pidspace.Advance(ph.MinPID, s.log)
		if err != nil {
			return time.Time{}, fmt.Errorf("move the next pid past STASIS_MIN_PID=%d: %w", ph.MinPID, err)
		}
		s.log.Debug("next pid moved", "past", ph.MinPID, "method", m)
	}
	var err error
	if ck.stdio, err = ck.openStdio(waiter); err != nil {
		return time.Time{}, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if le, ok := ck.eng.(engine.LaunchEnver); ok {
		// Later entries win in exec.Cmd's environment.
		cmd.Env = append(os.Environ(), le.LaunchEnv(ph.Opt)...)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ck.stdio.Stdin(), ck.stdio.Stdout(), ck.stdio.Stderr()
	// The JVM leads a session of its own. CRIU refuses to dump a process
	// whose session leader is outside its PID namespace (checkpoint-restore/
	// criu criu/cr-dump.c, "A session leader of N(N) is outside of its pid
	// namespace"), and stasis cannot always lead one itself: in an image
	// build's RUN step it is the build shell's child, and when that shell
	// gives it a process group of its own, setsid fails while its session
	// is still the one the build began outside.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	s.State.setPhase(PhaseLaunching)
	launched := time.Now()
	if ck.jvm, err = s.Start(cmd); err != nil {
		return launched, err
	}
	_ = ck.stdio.CloseChildEnds()
	s.log.Info("launched for checkpoint", "pid", ck.jvm.Pid, "engine", ck.eng.Name(), "image_dir", ph.Opt.Dir)
	s.State.update(func(st *Status) { st.PID = ck.jvm.Pid })
	ck.superviseInBackground()
	if ck.eng.Facts().PreservesPIDs {
		if err := pidspace.CheckAbove(ck.jvm.Pid, ph.MinPID); err != nil {
			return launched, err
		}
	}
	return launched, nil
}

func (ck *checkpointRun) openStdio(waiter *triggers.Waiter) (*stdio.Set, error) {
	// Plain pipes for every engine: nothing of the JVM's stdio lives in the
	// image directory, and a restore reconnects new pipes in their place.
	return stdio.Pipes(stdio.Options{Stdout: os.Stdout, Stderr: os.Stderr,
		Tap: func(_, line string) { waiter.Feed(line); ck.output.Feed(line) }})
}

// superviseInBackground forwards signals to the JVM while stasis waits for
// readiness and warms up; exited is closed when the JVM is gone.
func (ck *checkpointRun) superviseInBackground() {
	ck.detach, ck.detached, ck.exited = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		ws, detached := ck.s.superviseUntil(context.Background(), ck.jvm, ck.detach)
		if detached {
			close(ck.detached)
			return
		}
		ck.ws = ws
		close(ck.exited)
	}()
}

func (ck *checkpointRun) awaitReadyAndWarm(ctx context.Context, waiter *triggers.Waiter, launched time.Time) (time.Time, time.Time, error) {
	s, ph := ck.s, ck.ph
	if ph.Spec.IsApp() {
		return time.Now(), time.Now(), nil // the application checkpoints itself
	}
	s.State.setPhase(PhaseWaitingReady)
	err := waiter.Wait(ctx, triggers.Env{Started: launched, Exited: ck.exited, Manual: s.manual,
		Tail: ck.stdio.Tail, Interval: ph.ProbeInterval, Log: s.log,
		OnProbe: func(c, outcome string) { s.State.SetLastProbe(c + ": " + outcome) }})
	if err != nil {
		return time.Time{}, time.Time{}, ck.jvmError(err)
	}
	readyAt := time.Now()
	s.log.Info("ready", "after_ms", readyAt.Sub(launched).Milliseconds())
	s.State.setPhase(PhaseWarming)
	if _, err := triggers.Warmup(ck.whileAlive(ctx), ph.Warmup, s.runner, s.log); err != nil {
		return time.Time{}, time.Time{}, ck.jvmError(err)
	}
	return readyAt, time.Now(), nil
}

// whileAlive ends with ctx, or when the JVM exits, or when stasis is asked
// to stop: a warm-up against a JVM that is gone or shutting down is moot.
func (ck *checkpointRun) whileAlive(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		select {
		case <-ctx.Done():
		case <-ck.exited:
		case <-ck.s.StopRequested():
		}
	}()
	return ctx
}

// jvmError prefers the JVM's own end, when it ended, over the waiting error.
func (ck *checkpointRun) jvmError(err error) error {
	select {
	case <-ck.exited:
		if ck.s.Stopping() {
			return &ExitError{Name: "java", Status: ck.ws}
		}
		return fmt.Errorf("%w (the JVM %s)", err, reaper.Describe(ck.ws))
	default:
		return err
	}
}

// dump checkpoints the JVM. Except when the application triggers its own
// checkpoint, supervision stops first, so no forwarded signal lands in the
// frozen JVM; signals that arrive during the dump wait for after it.
func (ck *checkpointRun) dump(ctx context.Context) (time.Duration, error) {
	s, ph := ck.s, ck.ph
	if s.Stopping() {
		// A JVM asked to stop may be running its shutdown hooks: an image of
		// it would resume the shutdown on every restore.
		return 0, errors.New("asked to stop before the checkpoint")
	}
	s.State.setPhase(PhaseCheckpointing)
	if !ph.Spec.IsApp() {
		close(ck.detach)
		select {
		case <-ck.detached:
		case <-ck.exited:
			return 0, fmt.Errorf("the JVM %s before the checkpoint", reaper.Describe(ck.ws))
		}
		if s.Stopping() { // a SIGTERM forwarded just before the detach
			return 0, errors.New("asked to stop before the checkpoint")
		}
	}
	if caps, err := engine.ProcCaps(ck.jvm.Pid, "CapPrm"); err != nil {
		s.log.Warn("cannot read the JVM's capabilities: a restore will assume it held SYS_PTRACE only", "err", err)
	} else {
		ck.jvmCaps = engine.CapNames(caps)
	}
	s.log.Info("checkpointing", "pid", ck.jvm.Pid, "engine", ck.eng.Name())
	start := time.Now()
	job := &engine.CheckpointJob{Options: ph.Opt, Host: s, JVM: ck.jvm,
		Stdio: ck.stdio, GC: ph.GC, AppTriggered: ph.Spec.IsApp(), Output: &ck.output, Log: s.log, KdatDir: kdatDir(ph)}
	err := ck.eng.Checkpoint(ctx, job)
	ck.dumped = job.DumpedPID
	return time.Since(start), err
}

// finish verifies the image and writes the manifest, last.
func (ck *checkpointRun) finish(launched, readyAt, warmedAt time.Time, dumped time.Duration) error {
	ph := ck.ph
	_ = ck.stdio.Close(time.Second)
	files, total, err := image.Scan(ph.Opt.Dir, ck.eng.ImageFiles())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("the engine reported success but the image directory holds no image files")
	}
	if err := image.Protect(ph.Opt.Dir, files); err != nil {
		return err
	}
	salt, env, err := image.HashEnv(ph.Environ)
	if err != nil {
		return err
	}
	pid := ck.jvm.Pid
	if ck.dumped != 0 {
		pid = ck.dumped // the JVM behind CRaC's CRaCMinPid wrapper
	}
	m := &image.Manifest{Format: image.Format, StasisVersion: ph.Version, Engine: ck.eng.Name(),
		Env: env, EnvSalt: salt,
		Java: ph.Java, JavaVersion: ph.JavaVersion, Command: ph.Command, PID: pid, Created: time.Now().UTC(),
		Phases: image.Phases{LaunchToReadyMS: readyAt.Sub(launched).Milliseconds(),
			WarmupMS: warmedAt.Sub(readyAt).Milliseconds(), DumpMS: dumped.Milliseconds()},
		ImageBytes: total, Files: files, JVMCapabilities: ck.jvmCaps, LaunchFlags: ck.flags}
	if out, err := ck.stdio.PipeInodes(); out != 0 {
		m.StdioPipes = &image.StdioPipes{Stdout: out, Stderr: err}
	}
	if cpu, err := image.HostCPU(); err != nil {
		ck.s.log.Warn("the image records no CPU features", "err", err)
	} else {
		m.CPU = &cpu
	}
	if err := image.Write(ph.Opt.Dir, m); err != nil {
		return err
	}
	ck.s.log.Info("checkpoint complete", "image_dir", ph.Opt.Dir, "image_mb", fmt.Sprintf("%.1f", float64(total)/(1<<20)),
		"files", len(files), "ready_ms", m.Phases.LaunchToReadyMS, "warmup_ms", m.Phases.WarmupMS, "dump_ms", m.Phases.DumpMS)
	ck.s.Cleanup()
	return nil
}

// abandon ends a failed checkpoint run: the JVM stopped, every helper reaped,
// the output drained, and no image left that could look complete.
func (ck *checkpointRun) abandon() {
	if ck.jvm != nil {
		ck.s.stopAndReap(ck.jvm)
	}
	if ck.stdio != nil {
		ck.stdio.Resume()
		_ = ck.stdio.Close(time.Second)
	}
	ck.s.Cleanup()
	if err := image.Invalidate(ck.ph.Opt.Dir, ck.eng.ImageFiles(), true); err != nil {
		ck.s.log.Warn("cannot remove the failed image", "err", err)
	}
	_ = os.Remove(filepath.Join(ck.ph.Opt.Dir, image.ManifestName))
}
