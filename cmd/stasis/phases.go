package main

import (
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"stasis/healthcheck"
	"stasis/supervisor"
	"stasis/supervisor/engine"
	"stasis/triggers"
)

// buildPhases resolves what the configuration leaves open: the engine for
// STASIS_ENGINE=auto, the criu binary, the java executable. A checkpoint that
// cannot work here is a configuration error (exit 2, nothing started); in
// auto and restore modes the phases decide, since an image may name its
// engine or a cold start may do.
func buildPhases(cfg Config, environ map[string]string) (*supervisor.Phases, error) {
	ph := &supervisor.Phases{
		Mode: cfg.Mode, Command: cfg.Command, Spec: cfg.Spec,
		Opt:               engine.Options{Dir: cfg.ImageDir, ResourcePolicies: cfg.CRaCResourcePolicies, OpenJ9API: cfg.OpenJ9API},
		CheckpointTimeout: cfg.CheckpointTimeout, RestoreTimeout: cfg.RestoreTimeout,
		ProbeInterval: cfg.ProbeInterval, GC: cfg.GCBeforeCheckpoint, MinPID: cfg.MinPID,
		OnRestoreFailure: cfg.OnRestoreFailure, ChecksumsDuringCRIU: cfg.RestoreChecksums == "during", StateDir: cfg.StateDir, Version: version,
		Health: healthSpec(cfg), ColdAttr: childAttr,
		Environ: environ, EnvMatch: cfg.RestoreEnvMatch,
		Warmup: triggers.WarmupConfig{URLs: cfg.WarmupURLs, Requests: cfg.WarmupRequests,
			Concurrency: cfg.WarmupConcurrency, Duration: cfg.WarmupDuration, Cmd: cfg.WarmupCmd,
			Delay: cfg.CheckpointDelay, MinSuccess: cfg.WarmupMinSuccess, Insecure: cfg.ProbeInsecure},
	}
	if cfg.Mode == "run" {
		return ph, nil
	}
	java, home, _ := engine.JavaHome(cfg.Command)
	ph.Java = java
	if home != "" {
		// The release file names the version without starting a JVM.
		ph.JavaVersion = healthcheck.ReadJDK(java, home, "").Version
	}
	if cfg.CRIU != "" {
		// An explicit criu that is not there is a typo, whatever the mode.
		if _, err := engine.FindCRIU(cfg.CRIU); err != nil {
			return nil, &ConfigError{Setting: "STASIS_CRIU", Value: cfg.CRIU, Problem: "not an executable file"}
		}
	}
	// criu is looked up whatever the engine: at restore, an image may name
	// an engine other than the one detected here.
	criu, criuErr := engine.FindCRIU(cfg.CRIU, environ["JAVA_HOME"], home)
	ph.Opt.CRIU = criu
	name := cfg.Engine
	ph.EngineFromImage = name == "auto"
	if name == "auto" {
		name, ph.EngineErr = engine.Detect(cfg.Command, cfg.CRIU, environ["JAVA_HOME"])
	}
	if name == "crac" && !ph.EngineFromImage && home != "" && engine.Flavour(home) != "crac" {
		// Named explicitly: without this, java is launched with CRaC's
		// flags and fails, or a restore fails, after the start.
		return nil, &ConfigError{Setting: "STASIS_ENGINE", Value: cfg.Engine,
			Problem: fmt.Sprintf("the JDK at %s has no CRaC (no lib/criuengine); use a CRaC JDK, or STASIS_ENGINE=criu or auto", home)}
	}
	if ph.EngineErr == nil {
		ph.Engine = engine.New(name)
		if name == "criu" || name == "openj9" {
			ph.EngineErr = criuErr
		}
	}
	if ph.EngineErr == nil && ph.Engine != nil {
		_, ph.EngineErr = ph.Engine.LaunchArgv(cfg.Command, ph.Opt)
	}
	if ph.EngineErr == nil && name == "criu" && cfg.Spec.IsApp() {
		ph.EngineErr = errors.New("STASIS_CHECKPOINT_ON=app needs a JVM that checkpoints itself (a CRaC or OpenJ9 JDK); this JDK gets the criu engine")
	}
	if ph.EngineErr != nil && cfg.Mode == "checkpoint" {
		return nil, &ConfigError{Setting: "STASIS_ENGINE", Value: cfg.Engine, Problem: ph.EngineErr.Error()}
	}
	return ph, nil
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

// openJ9Flags names the launch flags of an OpenJ9 mode, for the log.
func openJ9Flags(api string) string {
	if api == engine.OpenJ9CRaC {
		return "-XX:CRaCCheckpointTo (org.crac, jcmd JDK.checkpoint)"
	}
	return "-XX:+EnableCRIUSupport -Dstasis.imageDir (CRIUSupport, jcmd CRIU.checkpoint)"
}
