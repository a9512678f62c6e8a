package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/sys/unix"

	"stasis/doctor"
	"stasis/supervisor"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
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
	if cfg.Mode == "run" {
		return ph, nil
	}
	java, home, _ := engine.JavaHome(cfg.Command)
	ph.Java = java
	if home != "" {
		// The release file names the version without starting a JVM.
		ph.JavaVersion = doctor.ReadJDK(java, home, "").Version
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
		name, ph.EngineWhy, ph.EngineErr = engine.DetectWhy(cfg.Command, cfg.CRIU, environ["JAVA_HOME"])
	}
	if f, ok := engine.FactsOf(name); ok && f.JDK != "" && !ph.EngineFromImage && home != "" && engine.Flavour(home) != f.JDK {
		// Named explicitly: without this, java is launched with the
		// engine's flags and fails, or a restore fails, after the start.
		return nil, &ConfigError{Setting: "STASIS_ENGINE", Value: cfg.Engine,
			Problem: fmt.Sprintf("the JDK at %s is not %s %s JDK (%s); use one, or STASIS_ENGINE=criu or auto", home, article(f.JDK), f.JDK, engine.FlavourFiles(f.JDK))}
	}
	if ph.EngineErr == nil {
		ph.Engine = engine.New(name)
		if ph.Engine != nil && ph.Engine.Facts().CRIU == engine.CRIUByStasis {
			ph.EngineErr = criuErr
		}
	}
	if ph.EngineErr == nil && ph.Engine != nil {
		ph.EngineErr = engine.CheckCommand(ph.Engine, cfg.Command)
	}
	if ph.EngineErr == nil && ph.Engine != nil && mayCheckpoint(cfg) {
		// LaunchArgv may start the JDK once (crac asks it for its engine
		// flag): here, before the reaper owns wait4, and only when this
		// start may checkpoint, so a restore never waits for it.
		ph.LaunchArgv, ph.EngineErr = ph.Engine.LaunchArgv(cfg.Command, ph.Opt)
	}
	if ph.EngineErr == nil && ph.Engine != nil && !ph.Engine.Facts().AppTrigger && cfg.Spec.IsApp() {
		ph.EngineErr = fmt.Errorf("STASIS_CHECKPOINT_ON=app needs a JVM that checkpoints itself (a CRaC or OpenJ9 JDK); this JDK gets the %s engine", name)
	}
	if ph.EngineErr != nil && cfg.Mode == "checkpoint" {
		return nil, &ConfigError{Setting: "STASIS_ENGINE", Value: cfg.Engine, Problem: ph.EngineErr.Error()}
	}
	return ph, nil
}

// mayCheckpoint: checkpoint mode, or auto mode with a trigger and no image
// yet (the phase machine's first start).
func mayCheckpoint(cfg Config) bool {
	if cfg.Mode == "checkpoint" {
		return true
	}
	if cfg.Mode != "auto" || cfg.Spec.Empty() {
		return false
	}
	_, err := image.Read(cfg.ImageDir)
	return errors.Is(err, image.ErrNoImage)
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

// article is "an" before a vowel ("an openj9 JDK"), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
