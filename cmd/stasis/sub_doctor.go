package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"stasis/doctor"
	"stasis/supervisor"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// defaultImageEstimate is the disk a first checkpoint is assumed to need:
// a Jetty and Jackson service measured 118 MB (docs/runtimes.md), with room.
const defaultImageEstimate = 256 << 20

// cmdDoctor is `stasis doctor [--json] [-- CMD...]`: what this environment
// lacks for the configured mode, with the fix. CMD is the container's
// command (the ENTRYPOINT's, after --); without it, the image's command,
// else java. It exits 0 when nothing the mode needs is missing, else 1.
func cmdDoctor(args []string, environ map[string]string, stdout, stderr io.Writer) error {
	var asJSON bool
	var cfgErr error
	cfg, rest, err := subConfigLenient("doctor", args, environ, stdout, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the findings as JSON")
	}, &cfgErr)
	if err != nil {
		return err
	}
	dc := doctorConfig(cfg, doctorCommand(cfg, environ, rest), environ)
	if cfgErr != nil {
		// An incomplete configuration is what a doctor is asked about: a
		// finding, not an exit 2 (issue 12).
		dc.ConfigErr = cfgErr.Error()
	}
	r := doctor.Run(context.Background(), dc)
	return answer(stdout, asJSON, r, r.OK)
}

func doctorCommand(cfg Config, environ map[string]string, rest []string) []string {
	if len(rest) > 0 {
		return rest
	}
	return defaultCommand(cfg, environ)
}

// doctorConfig is what the doctor judges, found as a start finds it: the
// engine, criu and the JDK by engine.Resolve, the image's verdict by the
// restore's checks, what this start does by the plan (foresee).
func doctorConfig(cfg Config, command []string, environ map[string]string) doctor.Config {
	dc := doctor.Config{Mode: cfg.Mode, ImageDir: cfg.ImageDir, MinPID: cfg.MinPID,
		ExpectedImageBytes: defaultImageEstimate, OpenJ9API: cfg.OpenJ9API, Command: command}
	f, err := foresee(cfg, command, command, environ)
	if err != nil {
		dc.ConfigErr = err.Error() // the start would refuse it (exit 2)
	}
	res, m := f.Resolution, f.Manifest
	if res.JavaErr != nil {
		dc.JDK = doctor.JDK{Err: "no JDK: " + res.JavaErr.Error()}
	} else {
		dc.JDK = doctor.JDK{Java: res.Java, Home: res.Home, Flavour: engine.Flavour(res.Home),
			Vendor: res.Release.Vendor, Version: res.Release.Version}
	}
	// The doctor judges the needs of what the settings ask for (Wants):
	// what is missing for it is the finding, even where the start would
	// fall back to a cold start.
	dc.Checkpoint, dc.Restore = f.Decision.Wants == supervisor.ActCheckpoint, f.Decision.Wants == supervisor.ActRestore
	dc.Engine = doctorEngine(res, m, dc.Restore)
	if dc.Engine == "" && res.Err != nil {
		dc.EngineErr = res.Err.Error()
	}
	if crit, err := res.CRIUFor(dc.Engine, command, func(k string) string { return environ[k] }); err != nil {
		dc.CRIUErr = err.Error()
	} else {
		dc.CRIU = crit
	}
	if ef, ok := engine.FactsOf(dc.Engine); ok {
		dc.EngineFacts = doctor.EngineFacts{PreservesPIDs: ef.PreservesPIDs, RestoreShm: ef.RestoreShm, LibCRIU: ef.LibCRIU}
	}
	dc.Image = imageState(f)
	var jvmCaps []string
	if m != nil {
		jvmCaps = m.JVMCapabilities
	}
	dc.Privileges, dc.PrivilegeNotes = doctor.Privileges(dc, jvmCaps, engine.DetectRuntime(environ))
	if m != nil && m.ImageBytes > 0 {
		dc.ExpectedImageBytes = m.ImageBytes
	}
	return dc
}

// doctorEngine is the engine this start uses: with STASIS_ENGINE=auto, at
// restore (or where none is detected), the one the image names, as the
// restore takes it.
func doctorEngine(res *engine.Resolution, m *image.Manifest, restore bool) string {
	if res.FromImage && m != nil && engine.New(m.Engine) != nil && (restore || res.Engine == nil) {
		return m.Engine
	}
	if res.Engine != nil {
		return res.Engine.Name()
	}
	return ""
}

// imageState is the image's verdict by the restore's checks of the image
// itself; the host's part (criu, capabilities, pid_max) has findings of its
// own, with their fixes, and the JVM's PID is free or not in the container
// to come, not in the one the doctor runs in.
func imageState(f *supervisor.Foresight) doctor.ImageState {
	if errors.Is(f.ImageErr, image.ErrNoImage) {
		return doctor.ImageState{}
	}
	if f.ImageErr != nil {
		return doctor.ImageState{Present: true, Problem: f.ImageErr.Error()}
	}
	st := doctor.ImageState{Present: true, PID: f.Manifest.PID, Bytes: f.Manifest.ImageBytes}
	for _, c := range f.Restore.Checks {
		switch c.Name {
		case supervisor.CheckPID, supervisor.CheckCRIUBinary, supervisor.CheckCapabilities:
			continue
		}
		if !c.OK {
			st.Problem = c.Detail
			break
		}
	}
	return st
}
