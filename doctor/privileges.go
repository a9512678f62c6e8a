package doctor

import (
	"fmt"
	"strings"

	"stasis/supervisor/engine"
)

// Privileges judges, with the engine's rules (the same the preflight before
// CRIU applies), each need of the engine for what this start does: at
// restore, also every capability the JVM held at its checkpoint (jvmCaps,
// the manifest's). runtime is the container engine, for the fixes
// (engine.DetectRuntime).
func Privileges(dc Config, jvmCaps []string, runtime string) ([]Privilege, []Finding) {
	facts := engine.ReadHostFacts()
	var out []Privilege
	var notes []Finding
	for _, p := range plannedPhases(dc) {
		var held uint64
		if p == engine.PhaseRestore {
			held, _ = engine.CapMask(jvmCaps)
		}
		n := engine.NeedsOf(dc.Engine, p, held, facts, dc.Command)
		if n.None() {
			continue
		}
		notes = append(notes, Finding{Name: "pod security (" + string(p) + ")",
			Detail: "Kubernetes level " + engine.PodSecurity(n)})
		// OpenJ9's dump is the JVM's, in the mode its command chooses
		// (engine.OpenJ9DumpCaps), not stasis's choice.
		if ef, _ := engine.FactsOf(dc.Engine); n.CRIU && engine.Unprivileged(p, facts) && (p == engine.PhaseRestore || ef.DumpCaps == nil) {
			notes = append(notes, Finding{Name: "criu mode (" + string(p) + ")",
				Detail: "--unprivileged: the container lacks what CRIU's privileged mode needs, which this engine does not"})
		}
		unmet := engine.Check(n, facts, runtime)
		missing := map[string]engine.Missing{}
		for _, ms := range unmet {
			missing[ms.What] = ms
		}
		for _, item := range n.Items() {
			pv := Privilege{Name: item, OK: true, Detail: okDetail(item, p, facts)}
			if ms, ok := missing[item]; ok {
				pv = Privilege{Name: item, Detail: ms.Why, Fix: ms.Fix}
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
				out = merge(out, Privilege{Name: ms.What, Detail: ms.Why, Fix: ms.Fix})
			}
		}
		if len(missing) == 0 {
			out = merge(out, Privilege{Name: "capabilities of the JVM", OK: true,
				Detail: "all it held at its checkpoint are in the effective set: " + strings.Join(engine.CapNames(n.JVMCaps), ", ")})
		}
	}
	return out, notes
}

// merge adds p, or lets it replace a met need of the same name when it is
// unmet (a need of both phases).
func merge(ps []Privilege, p Privilege) []Privilege {
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

func plannedPhases(dc Config) []engine.Phase {
	var ps []engine.Phase
	if dc.Restore {
		ps = append(ps, engine.PhaseRestore)
	}
	if dc.Checkpoint {
		ps = append(ps, engine.PhaseCheckpoint)
	}
	return ps
}
