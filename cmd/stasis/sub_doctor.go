package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"stasis/doctor"
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
	if asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		_ = r.WriteText(stdout)
	}
	if !r.OK {
		return errNotOK
	}
	return nil
}

func doctorCommand(cfg Config, environ map[string]string, rest []string) []string {
	if len(rest) > 0 {
		return rest
	}
	if m, err := image.Read(cfg.ImageDir); err == nil {
		return m.Command
	}
	if h := environ["JAVA_HOME"]; h != "" {
		return []string{filepath.Join(h, "bin", "java")}
	}
	return []string{"java"}
}

// doctorConfig resolves, as buildPhases and the phase machine do, the
// engine, criu and what this start would do with the image directory.
func doctorConfig(cfg Config, command []string, environ map[string]string) doctor.Config {
	dc := doctor.Config{Mode: cfg.Mode, ImageDir: cfg.ImageDir, MinPID: cfg.MinPID,
		ExpectedImageBytes: defaultImageEstimate, OpenJ9API: cfg.OpenJ9API, Command: command}
	java, home, err := engine.JavaHome(command)
	if err != nil {
		dc.JDK = doctor.JDK{Err: "no JDK: " + err.Error()}
	} else {
		dc.JDK = doctor.ReadJDK(java, home, engine.Flavour(home))
	}
	m, merr := image.Read(cfg.ImageDir)
	dc.Engine = cfg.Engine
	if dc.Engine == "auto" {
		dc.Engine, err = engine.Detect(command, cfg.CRIU, environ["JAVA_HOME"])
		if err != nil && merr == nil && engine.New(m.Engine) != nil {
			dc.Engine, err = m.Engine, nil // the image says which engine made it
		}
		if err != nil {
			dc.EngineErr = err.Error()
		}
	}
	findCRIU := func() (string, error) { return engine.FindCRIU(cfg.CRIU, environ["JAVA_HOME"], home) }
	if f, _ := engine.FactsOf(dc.Engine); f.CRIU == engine.CRIUByJVM {
		// The CRaC JDK runs the criu it finds itself.
		findCRIU = func() (string, error) {
			return engine.FindCRaCCRIU(command, home, func(k string) string { return environ[k] })
		}
	}
	if crit, err := findCRIU(); err != nil {
		dc.CRIUErr = err.Error()
	} else {
		dc.CRIU = crit
	}
	if f, ok := engine.FactsOf(dc.Engine); ok {
		dc.EngineFacts = doctor.EngineFacts{PreservesPIDs: f.PreservesPIDs, RestoreShm: f.RestoreShm, LibCRIU: f.LibCRIU}
	}
	dc.Checkpoint, dc.Restore = plannedWork(cfg, merr)
	dc.Image = imageState(cfg.ImageDir, m, merr, dc.Engine, command)
	if merr != nil {
		m = nil
	}
	dc.Privileges, dc.PrivilegeNotes = privileges(dc, m, environ)
	if merr == nil && m.ImageBytes > 0 {
		dc.ExpectedImageBytes = m.ImageBytes
	}
	return dc
}

// plannedWork is what this start does, as the phase machine decides it:
// auto restores a readable image and otherwise checkpoints when a trigger
// is set (a broken image means a cold start).
func plannedWork(cfg Config, imageErr error) (checkpoint, restore bool) {
	switch cfg.Mode {
	case "checkpoint":
		return true, false
	case "restore":
		return false, true
	case "auto":
		if imageErr == nil || !errors.Is(imageErr, image.ErrNoImage) {
			return false, true
		}
		return !cfg.Spec.Empty(), false
	}
	return false, false
}

func imageState(dir string, m *image.Manifest, err error, eng string, command []string) doctor.ImageState {
	if errors.Is(err, image.ErrNoImage) {
		return doctor.ImageState{}
	}
	if err != nil {
		return doctor.ImageState{Present: true, Problem: err.Error()}
	}
	st := doctor.ImageState{Present: true, PID: m.PID, Bytes: m.ImageBytes}
	if eng == "" {
		eng = m.Engine
	}
	if err := m.Matches(eng, command); err != nil {
		st.Problem = err.Error()
	} else if err := m.Verify(dir); err != nil {
		st.Problem = err.Error()
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
