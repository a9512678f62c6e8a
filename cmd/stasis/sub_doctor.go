package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

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
	dc.Privileges, dc.PrivilegeNotes = privileges(dc, m, environ)
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

// privileges judges, with the engine's rules (the same the preflight before
// CRIU applies), each need of the engine for what this start does: at
// restore, also every capability the JVM held at its checkpoint.
func privileges(dc doctor.Config, m *image.Manifest, environ map[string]string) ([]doctor.Privilege, []doctor.Finding) {
	facts := engine.ReadHostFacts()
	runtime := engine.DetectRuntime(environ)
	var out []doctor.Privilege
	var notes []doctor.Finding
	for _, p := range plannedPhases(dc) {
		var jvmCaps uint64
		if p == engine.PhaseRestore && m != nil {
			jvmCaps, _ = engine.CapMask(m.JVMCapabilities)
		}
		n := engine.NeedsOf(dc.Engine, p, jvmCaps, facts, dc.Command)
		if n.None() {
			continue
		}
		notes = append(notes, doctor.Finding{Name: "pod security (" + string(p) + ")",
			Detail: "Kubernetes level " + engine.PodSecurity(n)})
		// OpenJ9's dump is the JVM's, in the mode its command chooses
		// (engine.OpenJ9DumpCaps), not stasis's choice.
		if ef, _ := engine.FactsOf(dc.Engine); n.CRIU && engine.Unprivileged(p, facts) && (p == engine.PhaseRestore || ef.DumpCaps == nil) {
			notes = append(notes, doctor.Finding{Name: "criu mode (" + string(p) + ")",
				Detail: "--unprivileged: the container lacks what CRIU's privileged mode needs, which this engine does not"})
		}
		unmet := engine.Check(n, facts, runtime)
		missing := map[string]engine.Missing{}
		for _, ms := range unmet {
			missing[ms.What] = ms
		}
		for _, item := range n.Items() {
			pv := doctor.Privilege{Name: item, OK: true, Detail: okDetail(item, p, facts)}
			if ms, ok := missing[item]; ok {
				pv = doctor.Privilege{Name: item, Detail: ms.Why, Fix: ms.Fix}
				delete(missing, item)
			}
			out = merge(out, pv)
		}
		if n.JVMCaps == 0 {
			continue
		}
		// What is left are capabilities the JVM held: each missing one, or
		// one line for all.
		for _, ms := range unmet {
			if _, left := missing[ms.What]; left {
				out = merge(out, doctor.Privilege{Name: ms.What, Detail: ms.Why, Fix: ms.Fix})
			}
		}
		if len(missing) == 0 {
			out = merge(out, doctor.Privilege{Name: "capabilities of the JVM", OK: true,
				Detail: "all it held at its checkpoint are in the effective set: " + strings.Join(engine.CapNames(n.JVMCaps), ", ")})
		}
	}
	return out, notes
}

// merge adds p, or lets it replace a met need of the same name when it is
// unmet (a need of both phases).
func merge(ps []doctor.Privilege, p doctor.Privilege) []doctor.Privilege {
	for i := range ps {
		if ps[i].Name == p.Name {
			if ps[i].OK && !p.OK {
				ps[i] = p
			}
			return ps
		}
	}
	return append(ps, p)
}

func okDetail(item string, p engine.Phase, f engine.HostFacts) string {
	switch item {
	case "seccomp":
		return "no seccomp filter, as the " + string(p) + " needs"
	case "ptrace":
		if f.PtraceScope < 0 {
			return "no Yama: ptrace is governed by capabilities alone"
		}
		return fmt.Sprintf("kernel.yama.ptrace_scope is %d: ptrace allowed", f.PtraceScope)
	}
	return fmt.Sprintf("in the effective set, as the %s needs (CapEff %016x)", p, f.CapEff)
}

func plannedPhases(dc doctor.Config) []engine.Phase {
	var ps []engine.Phase
	if dc.Restore {
		ps = append(ps, engine.PhaseRestore)
	}
	if dc.Checkpoint {
		ps = append(ps, engine.PhaseCheckpoint)
	}
	return ps
}
