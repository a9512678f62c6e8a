package main

import (
	"errors"
	"log/slog"
	"path/filepath"

	"golang.org/x/sys/unix"

	"stasis/supervisor"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
	"stasis/triggers"
)

// newPhases is the start as the settings describe it, before anything
// is looked up on this machine.
func newPhases(cfg Config, environ map[string]string) *supervisor.Phases {
	return &supervisor.Phases{
		Mode: cfg.Mode, Command: cfg.Command, Spec: cfg.Spec,
		Opt:               engine.Options{Dir: cfg.ImageDir, ResourcePolicies: cfg.CRaCResourcePolicies, OpenJ9API: cfg.OpenJ9API, Command: cfg.Command},
		CheckpointTimeout: cfg.CheckpointTimeout, RestoreTimeout: cfg.RestoreTimeout,
		ProbeInterval: cfg.ProbeInterval, GC: cfg.GCBeforeCheckpoint, MinPID: cfg.MinPID,
		OnRestoreFailure: cfg.OnRestoreFailure, ChecksumsDuringCRIU: cfg.RestoreChecksums == "during", StateDir: cfg.StateDir, Version: version,
		Health: healthSpec(cfg), ColdAttr: childAttr, Runtime: engine.DetectRuntime(environ),
		Environ: environ, EnvMatch: cfg.RestoreEnvMatch,
		Warmup: triggers.WarmupConfig{URLs: cfg.WarmupURLs, Requests: cfg.WarmupRequests,
			Concurrency: cfg.WarmupConcurrency, Duration: cfg.WarmupDuration, Cmd: cfg.WarmupCmd,
			Delay: cfg.CheckpointDelay, MinSuccess: cfg.WarmupMinSuccess, Insecure: cfg.ProbeInsecure},
	}
}

// resolvePhases resolves what the configuration leaves open (engine.Resolve:
// the engine for STASIS_ENGINE=auto, the criu binary, the java executable).
// A checkpoint that cannot work here is a configuration error (exit 2,
// nothing started); in auto and restore modes the plan decides, since an
// image may name its engine or a cold start may do.
func resolvePhases(cfg Config, ph *supervisor.Phases, environ map[string]string) error {
	if cfg.Mode == "run" {
		return nil
	}
	res, err := engine.Resolve(resolveInput(cfg, cfg.Command, environ))
	if se := (*engine.SettingError)(nil); errors.As(err, &se) {
		return &ConfigError{Setting: se.Setting, Value: se.Value, Problem: se.Problem}
	}
	ph.Java, ph.JavaVersion, ph.Opt.CRIU = res.Java, res.Release.Version, res.CRIU
	ph.Engine, ph.EngineErr, ph.EngineFromImage, ph.EngineWhy = res.Engine, res.Err, res.FromImage, res.Why
	if supervisor.Plan(ph.PlanInput()).Action == supervisor.ActCheckpoint {
		// Here, before the reaper owns wait4, and only when this start
		// checkpoints, so a restore never waits for it.
		res.Launch(cfg.Command, ph.Opt)
		ph.LaunchArgv, ph.EngineErr = res.LaunchArgv, res.Err
	}
	if ph.EngineErr != nil && cfg.Mode == "checkpoint" {
		return &ConfigError{Setting: "STASIS_ENGINE", Value: cfg.Engine, Problem: ph.EngineErr.Error()}
	}
	return nil
}

// resolveInput is what engine.Resolve needs of the settings.
func resolveInput(cfg Config, command []string, environ map[string]string) engine.ResolveInput {
	return engine.ResolveInput{Engine: cfg.Engine, CRIU: cfg.CRIU, JavaHome: environ["JAVA_HOME"],
		Command: command, AppTrigger: cfg.Spec.IsApp()}
}

// foresee is what a start with cfg would do here, for inspect and the
// doctor: the engine resolved for resolveWith (a command to find the JDK
// by; the image's when empty), the image's checks against compare (nil:
// the engine only) and the plan. The error is a setting the start would
// refuse with exit 2: a finding for the doctor, who goes on.
func foresee(cfg Config, resolveWith, compare []string, environ map[string]string) (*supervisor.Foresight, error) {
	if len(resolveWith) == 0 {
		resolveWith = defaultCommand(cfg, environ)
	}
	res, err := engine.Resolve(resolveInput(cfg, resolveWith, environ))
	return supervisor.Foresee(supervisor.ForeseeInput{Mode: cfg.Mode, NoTrigger: cfg.Spec.Empty(),
		OnRestoreFailure: cfg.OnRestoreFailure, Dir: cfg.ImageDir, Resolution: res, Command: compare,
		Environ: environ, EnvMatch: cfg.RestoreEnvMatch}), err
}

// defaultCommand is the command a start without one would be judged by:
// the image's, else the JDK's java.
func defaultCommand(cfg Config, environ map[string]string) []string {
	if m, err := image.Read(cfg.ImageDir); err == nil && len(m.Command) > 0 {
		return m.Command
	}
	if h := environ["JAVA_HOME"]; h != "" {
		return []string{filepath.Join(h, "bin", "java")}
	}
	return []string{"java"}
}

// healthSpec is STASIS_HEALTH, else the http or tcp probe of the trigger.
func healthSpec(cfg Config) string {
	if cfg.Health != "" {
		return cfg.Health
	}
	if p := cfg.Spec.HTTPProbe(); p != nil {
		return p.String()
	}
	return ""
}

// becomeSessionLeader: CRIU refuses a dump whose session leader is outside
// the PID namespace, so stasis leads a session of its own. Container
// runtimes already make PID 1 one; under `unshare` it is not.
func becomeSessionLeader(log *slog.Logger) {
	sid, err := unix.Getsid(0)
	if err == nil && sid == unix.Getpid() {
		return
	}
	if _, err := unix.Setsid(); err != nil {
		log.Debug("setsid", "err", err)
	}
}
