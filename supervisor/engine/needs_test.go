package engine

import (
	"slices"
	"strings"
	"testing"
)

// root is a container with every capability, no seccomp and no Yama.
func root() HostFacts { return HostFacts{CapEff: 1<<41 - 1, CapLast: 40, Seccomp: 0, PtraceScope: -1} }

func without(f HostFacts, caps ...int) HostFacts {
	for _, c := range caps {
		f.CapEff &^= 1 << c
	}
	return f
}

func TestNeedsCheck(t *testing.T) {
	yama := func(f HostFacts) HostFacts { f.PtraceScope = 1; return f }
	ptrace := uint64(1 << CapSysPtrace)
	for _, tc := range []struct {
		name    string
		engine  string
		phase   Phase
		jvmCaps uint64
		facts   HostFacts
		missing string // the What of each missing need, space-separated
	}{
		{"criu dump as root", "criu", PhaseCheckpoint, 0, root(), ""},
		{"SYS_ADMIN stands in for CHECKPOINT_RESTORE", "criu", PhaseCheckpoint, 0, without(root(), CapCheckpointRestore), ""},
		{"neither", "criu", PhaseCheckpoint, 0, without(root(), CapCheckpointRestore, CapSysAdmin), "capability CHECKPOINT_RESTORE"},
		{"no Yama: the dump needs no SYS_PTRACE", "criu", PhaseCheckpoint, 0, without(root(), CapSysPtrace), ""},
		{"Yama: the dump needs SYS_PTRACE", "criu", PhaseCheckpoint, 0, yama(without(root(), CapSysPtrace)), "capability SYS_PTRACE"},
		{"dump under seccomp", "criu", PhaseCheckpoint, 0, func() HostFacts { f := root(); f.Seccomp = 2; return f }(), "seccomp"},
		{"ptrace_scope 3", "crac", PhaseCheckpoint, 0, func() HostFacts { f := root(); f.PtraceScope = 3; return f }(), "ptrace"},
		{"restore under seccomp is fine", "criu", PhaseRestore, ptrace, func() HostFacts { f := root(); f.Seccomp = 2; return f }(), ""},
		{"restore: the JVM held SYS_PTRACE", "criu", PhaseRestore, ptrace, without(root(), CapSysPtrace), "capability SYS_PTRACE"},
		{"restore: the JVM did not", "criu", PhaseRestore, 1 << CapChown, without(root(), CapSysPtrace), ""},
		{"restore: unknown JVM caps mean SYS_PTRACE", "criu", PhaseRestore, 0, without(root(), CapSysPtrace), "capability SYS_PTRACE"},
		{"restore: the JVM held CHECKPOINT_RESTORE itself, SYS_ADMIN does not stand in",
			"criu", PhaseRestore, 1 << CapCheckpointRestore, without(root(), CapCheckpointRestore), "capability CHECKPOINT_RESTORE"},
		{"restore: every cap the JVM held", "crac", PhaseRestore, 1<<CapNetAdmin | 1<<CapSysTime,
			without(root(), CapNetAdmin, CapSysTime), "capability NET_ADMIN capability SYS_TIME"},
		{"openj9 needs SETPCAP", "openj9", PhaseRestore, ptrace, without(root(), CapSetpcap), "capability SETPCAP"},
		{"warp needs nothing", "warp", PhaseCheckpoint, 0, HostFacts{Seccomp: 2, PtraceScope: 3}, ""},
	} {
		n := NeedsOf(tc.engine, tc.phase, tc.jvmCaps, tc.facts, nil)
		var got []string
		for _, m := range Check(n, tc.facts, RuntimeDocker) {
			got = append(got, m.What)
			if m.Why == "" || (strings.HasPrefix(m.What, "capability") && m.Fix == "") {
				t.Errorf("%s: %q has no reason or no fix: %+v", tc.name, m.What, m)
			}
		}
		if g := strings.Join(got, " "); g != tc.missing {
			t.Errorf("%s: missing %q, want %q", tc.name, g, tc.missing)
		}
	}
}

func TestCapFixSpeaksTheRuntimesWords(t *testing.T) {
	caps := []int{CapCheckpointRestore, CapSysPtrace}
	for _, tc := range []struct {
		runtime string
		capLast int
		want    []string
		not     []string
	}{
		{RuntimePodman, 40, []string{"podman run --cap-add=CHECKPOINT_RESTORE --cap-add=SYS_PTRACE"}, []string{"docker", "SYS_ADMIN"}},
		{RuntimeDocker, 40, []string{"docker run --cap-add=CHECKPOINT_RESTORE --cap-add=SYS_PTRACE",
			"Docker 20.10 and older reject CHECKPOINT_RESTORE: --cap-add=SYS_ADMIN --cap-add=SYS_PTRACE"}, []string{"podman"}},
		{RuntimeKubernetes, 40, []string{"capabilities: {add: [CHECKPOINT_RESTORE, SYS_PTRACE]}"}, []string{"docker", "SYS_ADMIN"}},
		{RuntimeDocker, 39, []string{"docker run --cap-add=SYS_ADMIN --cap-add=SYS_PTRACE"}, []string{"CHECKPOINT_RESTORE"}},
		{"", 40, []string{"docker run --cap-add=CHECKPOINT_RESTORE", "capabilities: {add: [CHECKPOINT_RESTORE, SYS_PTRACE]}"}, nil},
	} {
		got := CapFix(caps, tc.capLast, tc.runtime)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q (cap_last_cap %d): %q lacks %q", tc.runtime, tc.capLast, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%q (cap_last_cap %d): %q names %q", tc.runtime, tc.capLast, got, n)
			}
		}
	}
}

func TestUnprivileged(t *testing.T) {
	for _, tc := range []struct {
		phase Phase
		f     HostFacts
		want  bool
	}{
		{PhaseCheckpoint, root(), false},
		{PhaseCheckpoint, without(root(), CapSysAdmin), true},
		{PhaseCheckpoint, without(root(), CapNetAdmin), false},
		{PhaseRestore, root(), false},
		{PhaseRestore, without(root(), CapNetAdmin), true},
		{PhaseRestore, without(root(), CapSysTime), true},
		{PhaseRestore, without(root(), CapSysAdmin), true},
	} {
		if got := Unprivileged(tc.phase, tc.f); got != tc.want {
			t.Errorf("%s with CapEff %x: unprivileged %v, want %v", tc.phase, tc.f.CapEff, got, tc.want)
		}
	}
}

func TestCapNamesRoundTrip(t *testing.T) {
	mask := uint64(1<<CapChown | 1<<CapSysPtrace | 1<<CapCheckpointRestore)
	names := CapNames(mask)
	if strings.Join(names, ",") != "CHOWN,SYS_PTRACE,CHECKPOINT_RESTORE" {
		t.Fatalf("names %v", names)
	}
	back, unknown := CapMask(append(names, "NO_SUCH"))
	if back != mask || len(unknown) != 1 {
		t.Fatalf("mask %x unknown %v", back, unknown)
	}
}

func TestPodSecurity(t *testing.T) {
	f := root()
	f.PtraceScope = 1
	for _, tc := range []struct {
		engine string
		phase  Phase
		want   []string
	}{
		{"criu", PhaseCheckpoint, []string{"privileged", "CHECKPOINT_RESTORE, SYS_PTRACE", "Unconfined"}},
		{"criu", PhaseRestore, []string{"privileged", "CHECKPOINT_RESTORE, SYS_PTRACE"}},
		{"warp", PhaseRestore, []string{"baseline"}},
	} {
		got := PodSecurity(NeedsOf(tc.engine, tc.phase, 1<<CapChown|1<<CapSysPtrace, f, nil))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %s: %q lacks %q", tc.engine, tc.phase, got, w)
			}
		}
	}
	// The JVM's default capabilities are Baseline's: no reason on their own.
	if got := PodSecurity(Needs{JVMCaps: 1<<CapChown | 1<<CapSetpcap}); !strings.HasPrefix(got, "baseline") {
		t.Errorf("defaults only: %q", got)
	}
}

// OpenJ9 runs CRIU's dump privileged unless its command sets
// -Dopenj9.internal.criu.unprivilegedMode=true (InternalCRIUSupport.java):
// privileged, SYS_ADMIN; unprivileged, CHECKPOINT_RESTORE and NET_ADMIN;
// SYS_PTRACE under Yama either way. The restore is stasis's criu.
func TestNeedsOfOpenJ9Modes(t *testing.T) {
	java := func(props ...string) []string { return append(append([]string{"java"}, props...), "-jar", "app.jar") }
	unpriv := "-D" + OpenJ9UnprivilegedProperty + "=true"
	noYama, yama := HostFacts{PtraceScope: -1}, HostFacts{PtraceScope: 1}
	for _, tc := range []struct {
		name    string
		phase   Phase
		command []string
		facts   HostFacts
		want    []int
	}{
		{"privileged by default", PhaseCheckpoint, java(), noYama, []int{CapSysAdmin}},
		{"privileged under Yama", PhaseCheckpoint, java(), yama, []int{CapSysAdmin, CapSysPtrace}},
		{"unprivileged", PhaseCheckpoint, java(unpriv), noYama, []int{CapCheckpointRestore, CapNetAdmin}},
		{"unprivileged under Yama", PhaseCheckpoint, java(unpriv), yama, []int{CapCheckpointRestore, CapNetAdmin, CapSysPtrace}},
		{"any case of true", PhaseCheckpoint, java("-D" + OpenJ9UnprivilegedProperty + "=TRUE"), noYama, []int{CapCheckpointRestore, CapNetAdmin}},
		{"false", PhaseCheckpoint, java("-D" + OpenJ9UnprivilegedProperty + "=false"), noYama, []int{CapSysAdmin}},
		{"no value is false (Boolean.parseBoolean)", PhaseCheckpoint, java("-D" + OpenJ9UnprivilegedProperty), noYama, []int{CapSysAdmin}},
		{"the last -D wins", PhaseCheckpoint, java(unpriv, "-D"+OpenJ9UnprivilegedProperty+"=false"), noYama, []int{CapSysAdmin}},
		{"another property", PhaseCheckpoint, java("-D" + OpenJ9UnprivilegedProperty + "X=true"), noYama, []int{CapSysAdmin}},
		{"restore: stasis's criu, either mode", PhaseRestore, java(unpriv), noYama, []int{CapCheckpointRestore, CapSetpcap}},
		{"restore privileged", PhaseRestore, java(), noYama, []int{CapCheckpointRestore, CapSetpcap}},
	} {
		n := NeedsOf("openj9", tc.phase, 0, tc.facts, tc.command)
		if !slices.Equal(n.Caps, tc.want) {
			t.Errorf("%s: caps %v, want %v", tc.name, CapNames(maskOf(n.Caps)), CapNames(maskOf(tc.want)))
		}
		if tc.phase == PhaseCheckpoint && (!n.NoSeccomp || !n.Ptrace) {
			t.Errorf("%s: %+v, want no seccomp and ptrace", tc.name, n)
		}
	}
	// A container with CHECKPOINT_RESTORE but not SYS_ADMIN cannot run the
	// privileged dump, and is told how to run the unprivileged one.
	f := without(root(), CapSysAdmin)
	ms := Check(NeedsOf("openj9", PhaseCheckpoint, 0, f, java()), f, RuntimePodman)
	if len(ms) != 1 || ms[0].What != "capability SYS_ADMIN" || !strings.Contains(ms[0].Why, OpenJ9UnprivilegedProperty+"=true") {
		t.Errorf("privileged dump without SYS_ADMIN: %+v", ms)
	}
	if ms := Check(NeedsOf("openj9", PhaseCheckpoint, 0, f, java(unpriv)), f, RuntimePodman); len(ms) != 0 {
		t.Errorf("unprivileged dump with CHECKPOINT_RESTORE and NET_ADMIN: %+v", ms)
	}
	f = without(root(), CapNetAdmin)
	if ms := Check(NeedsOf("openj9", PhaseCheckpoint, 0, f, java(unpriv)), f, RuntimePodman); len(ms) != 1 || ms[0].What != "capability NET_ADMIN" {
		t.Errorf("unprivileged dump without NET_ADMIN: %+v", ms)
	}
}

func maskOf(caps []int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return m
}
