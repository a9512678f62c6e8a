package engine

import (
	"fmt"
	"slices"
	"strings"
)

// Capability numbers (linux/capability.h).
const (
	CapChown             = 0
	CapSetpcap           = 8
	CapNetAdmin          = 12
	CapSysPtrace         = 19
	CapSysAdmin          = 21
	CapSysTime           = 25
	CapCheckpointRestore = 40 // Linux 5.9
)

// capNames are the names of linux/capability.h without CAP_, the way
// Docker, podman and Kubernetes spell them, indexed by number.
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
	"SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE",
	"MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE"}

// CapName is capability c's name without CAP_ ("SYS_PTRACE").
func CapName(c int) string {
	if c >= 0 && c < len(capNames) {
		return capNames[c]
	}
	return fmt.Sprintf("CAP_%d", c)
}

// CapNames lists the capabilities of a mask by name, lowest first.
func CapNames(mask uint64) []string {
	var out []string
	for c := 0; c < 64; c++ {
		if mask&(1<<c) != 0 {
			out = append(out, CapName(c))
		}
	}
	return out
}

// Phase is what CRIU is about to do.
type Phase string

const (
	PhaseCheckpoint Phase = "checkpoint"
	PhaseRestore    Phase = "restore"
)

// Needs is what an engine needs of the container for one phase. Every set
// here was measured with the real CRIU 4.2.1 under capsh, in Docker 20.10 and
// in podman (README.md, "Least privilege"); for crac and openj9, whose JVM
// runs CRIU itself, they are what that CRIU needs for the same work.
type Needs struct {
	Engine string
	Phase  Phase
	// Caps must all be in the effective set. CHECKPOINT_RESTORE is also
	// satisfied by SYS_ADMIN, which grants the same (and more) and was the
	// only way before Linux 5.9.
	Caps []int
	// JVMCaps (restore) are the capabilities the JVM held at its checkpoint:
	// each one exactly, no stand-in.
	JVMCaps uint64
	// NoSeccomp: the dumping CRIU must not itself be under a seccomp filter.
	// Every process in a container with the runtime's default profile is,
	// the JVM too, and the kernel refuses the PTRACE_O_SUSPEND_SECCOMP that
	// CRIU then needs to inject its parasite into the JVM to a tracer under
	// seccomp (torvalds/linux kernel/ptrace.c, ptrace_setoptions; compel
	// logs "suspending seccomp failed: Operation not permitted"). Measured in
	// Docker 20.10 and podman 4.3; the restore works under the default
	// profile.
	NoSeccomp bool
	// Ptrace: Yama must allow ptrace at all (kernel.yama.ptrace_scope < 3).
	Ptrace bool
	// CRIU: stasis runs a criu binary for this phase.
	CRIU bool
}

// None says the phase needs nothing of the container (warp, or no engine).
func (n Needs) None() bool {
	return len(n.Caps) == 0 && n.JVMCaps == 0 && !n.NoSeccomp && !n.Ptrace && !n.CRIU
}

// NeedsOf is what engine needs for phase in a container with facts f.
// jvmCaps is, at restore, the permitted set the JVM had at its checkpoint
// (the manifest records it; 0 when unknown): CRIU gives every restored
// thread its capabilities back with capset(2), which fails when the
// restoring container lacks one (checkpoint-restore/criu
// criu/pie/restorer.c, restore_creds: "Unable to restore capabilities",
// then a BUG and a hang until the restore timeout). Measured: CRIU's
// unprivileged restore itself needs CHECKPOINT_RESTORE only; a JVM started
// without SYS_PTRACE restored in a container without it. command is the
// java command line: an engine whose JVM dumps itself in a mode its
// command chooses (Facts.DumpCaps, OpenJ9) needs what that mode needs.
func NeedsOf(engine string, phase Phase, jvmCaps uint64, f HostFacts, command []string) Needs {
	n := Needs{Engine: engine, Phase: phase}
	ef, ok := FactsOf(engine)
	if !ok || ef.CRIU == CRIUNone {
		return n // warp needs no privilege (Azul's docs); nothing else dumps
	}
	n.Caps = append([]int{CapCheckpointRestore}, ef.ExtraCaps...)
	n.CRIU = ef.CRIU == CRIUByStasis // crac's JVM finds its own criu
	switch phase {
	case PhaseCheckpoint:
		if ef.DumpCaps != nil {
			n.Caps = ef.DumpCaps(command)
		}
		if NeedsPtraceCap(f) {
			n.Caps = append(n.Caps, CapSysPtrace)
		}
		n.NoSeccomp, n.Ptrace = true, true
	case PhaseRestore:
		if jvmCaps == 0 {
			// An image without the record: assume the JVM held what a dump
			// needs under Yama, rather than risk CRIU's hang.
			jvmCaps = 1 << CapSysPtrace
		}
		n.JVMCaps = jvmCaps
	}
	return n
}

// NeedsPtraceCap says whether CRIU needs CAP_SYS_PTRACE to seize the JVM.
// CRIU and the JVM are both children of stasis, with the same uid and the
// same capabilities. Without Yama, or with ptrace_scope 0, the kernel lets a
// tracer whose permitted set holds the tracee's ptrace it
// (torvalds/linux kernel/ptrace.c __ptrace_may_access,
// security/commoncap.c cap_ptrace_access_check): no SYS_PTRACE needed,
// measured here (a kernel without Yama) with CHECKPOINT_RESTORE alone. With
// ptrace_scope 1, only an ancestor may, or a holder of SYS_PTRACE
// (security/yama/yama_lsm.c yama_ptrace_access_check), and CRIU is not the
// JVM's ancestor; with 2, only a holder of SYS_PTRACE.
func NeedsPtraceCap(f HostFacts) bool { return f.PtraceScope >= 1 }

func capList(mask uint64) []int {
	var out []int
	for c := 0; c < 64; c++ {
		if mask&(1<<c) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// HostFacts are what this process may do: the container's effective
// capabilities and seccomp mode, which stasis passes on to the CRIU it runs
// and to the JVM.
type HostFacts struct {
	CapEff      uint64
	CapLast     int // /proc/sys/kernel/cap_last_cap; under 40: no CHECKPOINT_RESTORE
	Seccomp     int // 0 none, 1 strict, 2 filter, -1 unknown
	PtraceScope int // -1 without Yama
	Err         error
}

// Has says whether c is effective; SYS_ADMIN stands in for
// CHECKPOINT_RESTORE (the kernel accepts either: kernel/pid.c and
// fs/proc/base.c check checkpoint_restore_ns_capable, which is one or the
// other).
func (f HostFacts) Has(c int) bool {
	if f.CapEff&(1<<c) != 0 {
		return true
	}
	return c == CapCheckpointRestore && f.CapEff&(1<<CapSysAdmin) != 0
}

// Missing is one need that this container does not meet, with the fix.
type Missing struct {
	What string // "capability SYS_PTRACE", "seccomp", "ptrace"
	Why  string
	Fix  string
}

// Check lists what n needs and f lacks, with fixes in runtime's words
// (Runtime: docker, podman, kubernetes or "" when unknown).
func Check(n Needs, f HostFacts, runtime string) []Missing {
	var out []Missing
	if f.Err != nil && len(n.Caps) > 0 {
		return []Missing{{What: "capabilities", Why: "cannot read them: " + f.Err.Error()}}
	}
	var lacking []int
	for _, c := range n.Caps {
		if !f.Has(c) {
			lacking = append(lacking, c)
		}
	}
	for _, c := range capList(n.JVMCaps &^ f.CapEff) {
		if !slices.Contains(lacking, c) {
			lacking = append(lacking, c)
		}
	}
	if len(lacking) > 0 {
		fix := CapFix(lacking, f.CapLast, runtime)
		for _, c := range lacking {
			out = append(out, Missing{What: "capability " + CapName(c),
				Why: fmt.Sprintf("the %s engine's %s needs CAP_%s, which is not in the effective set (CapEff %016x)%s",
					n.Engine, n.Phase, CapName(c), f.CapEff, capWhy(n.Engine, c, n.Phase)), Fix: fix})
		}
	}
	if n.NoSeccomp && f.Seccomp > 0 {
		out = append(out, Missing{What: "seccomp",
			Why: "stasis runs under a seccomp filter (mode " + map[int]string{1: "strict", 2: "filter"}[f.Seccomp] +
				"), so CRIU cannot suspend the JVM's to dump it (PTRACE_O_SUSPEND_SECCOMP is refused to a filtered tracer)",
			Fix: SeccompFix(runtime)})
	}
	if n.Ptrace && f.PtraceScope == 3 {
		out = append(out, Missing{What: "ptrace", Why: "kernel.yama.ptrace_scope is 3: no process may ptrace, so CRIU cannot dump",
			Fix: "on the host: sysctl -w kernel.yama.ptrace_scope=1 (3 can only be lowered by a reboot)"})
	}
	return out
}

func capWhy(engine string, c int, p Phase) string {
	switch {
	case c == CapSysAdmin && p == PhaseCheckpoint && engine == "openj9":
		return " (OpenJ9 runs CRIU's dump privileged unless the java command sets -D" + OpenJ9UnprivilegedProperty +
			"=true, which needs CHECKPOINT_RESTORE and NET_ADMIN instead)"
	case c == CapNetAdmin && p == PhaseCheckpoint && engine == "openj9":
		return " (OpenJ9's unprivileged CRIU dump locks the network with it)"
	case c == CapCheckpointRestore:
		return " (to restore PIDs with clone3 set_tid and read /proc/PID/map_files)"
	case c == CapSysPtrace && p == PhaseCheckpoint:
		return " (to seize the JVM with ptrace)"
	case p == PhaseRestore:
		return " (the JVM held it at its checkpoint, and CRIU gives it back with capset)"
	}
	return ""
}

// Runtime names: the container engine stasis runs under, as it can tell
// from inside.
const (
	RuntimeDocker     = "docker"
	RuntimePodman     = "podman"
	RuntimeKubernetes = "kubernetes"
)

// CapFix says how to grant caps in the words runtime accepts. Docker 20.10
// rejects CHECKPOINT_RESTORE ("unknown capability"; moby/moby pull 41563
// disabled it for 20.10, and 23.0 brought it back) and nothing inside a
// container tells its Docker's version, so a Docker fix names both. A
// kernel older than 5.9 (cap_last_cap < 40) has no CHECKPOINT_RESTORE at
// all: SYS_ADMIN then, everywhere.
func CapFix(caps []int, capLast int, runtime string) string {
	old := capLast > 0 && capLast < CapCheckpointRestore
	names := func(cr string) []string {
		var out []string
		for _, c := range caps {
			n := CapName(c)
			if c == CapCheckpointRestore {
				n = cr
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out
	}
	cr := "CHECKPOINT_RESTORE"
	if old {
		cr = "SYS_ADMIN"
	}
	flags := func(tool string, ns []string) string {
		return tool + " run --cap-add=" + strings.Join(ns, " --cap-add=") + " …"
	}
	k8s := "Kubernetes: securityContext: {capabilities: {add: [" + strings.Join(names(cr), ", ") + "]}}"
	switch runtime {
	case RuntimePodman:
		return flags("podman", names(cr))
	case RuntimeKubernetes:
		return k8s
	case RuntimeDocker:
		if !old && slices.Contains(caps, CapCheckpointRestore) {
			return flags("docker", names(cr)) + " (Docker 20.10 and older reject CHECKPOINT_RESTORE: " +
				strings.Join(prefixed("--cap-add=", names("SYS_ADMIN")), " ") + ")"
		}
		return flags("docker", names(cr))
	}
	return flags("docker", names(cr)) + "; " + k8s
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// SeccompFix turns the runtime's seccomp profile off for the container.
func SeccompFix(runtime string) string {
	switch runtime {
	case RuntimePodman:
		return "podman run --security-opt seccomp=unconfined …"
	case RuntimeKubernetes:
		return "Kubernetes: securityContext: {seccompProfile: {type: Unconfined}}"
	}
	return "docker run --security-opt seccomp=unconfined …; Kubernetes: securityContext: {seccompProfile: {type: Unconfined}}"
}

// Describe is the missing needs as one message: what, why and the fix.
func Describe(ms []Missing) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(m.What + " missing: " + m.Why)
	}
	var fixes []string
	for _, m := range ms {
		if m.Fix != "" && !slices.Contains(fixes, m.Fix) {
			fixes = append(fixes, m.Fix)
		}
	}
	if len(fixes) > 0 {
		b.WriteString(". Fix: " + strings.Join(fixes, "; "))
	}
	return b.String()
}

// privileged lists what CRIU's privileged mode needs beyond the Needs, per
// phase; without any of them stasis passes --unprivileged, in which CRIU
// skips that work and asks only for CHECKPOINT_RESTORE (and SYS_PTRACE to
// dump). Measured with CRIU 4.2.1 under capsh:
//   - dump: SYS_ADMIN. Without it, kernel probing fails creating a network
//     namespace ("net: Unable create a network namespace: Operation not
//     permitted", criu/net.c).
//   - restore: SYS_ADMIN and SYS_TIME for the time namespace CRIU sets up on
//     kernels that have them (criu/timens.c prepare_timens: unshare
//     CLONE_NEWTIME, then timens_offsets, "Unable to set a monotonic clock
//     offset"; it returns at once under --unprivileged), and NET_ADMIN for
//     the sockets' buffer sizes (criu/sockets.c sk_setbufs:
//     SO_SNDBUFFORCE, which --unprivileged replaces by SO_SNDBUF).
var privileged = map[Phase][]int{
	PhaseCheckpoint: {CapSysAdmin},
	PhaseRestore:    {CapSysAdmin, CapSysTime, CapNetAdmin},
}

// Unprivileged says whether CRIU must run in its --unprivileged mode for
// phase here: the container lacks something its privileged mode needs.
func Unprivileged(p Phase, f HostFacts) bool {
	for _, c := range privileged[p] {
		if f.CapEff&(1<<c) == 0 {
			return true
		}
	}
	return false
}

// DetectRuntime tells, from inside, which container engine runs stasis, so
// that fix lines use its words: Kubernetes sets KUBERNETES_SERVICE_HOST in
// every container; podman writes /run/.containerenv
// (containers/podman docs/source/markdown/podman-run.1.md.in, "Podman
// creates /run/.containerenv"); Docker creates /.dockerenv. "" when none.
func DetectRuntime(environ map[string]string) string {
	switch {
	case environ["KUBERNETES_SERVICE_HOST"] != "":
		return RuntimeKubernetes
	case exists("/run/.containerenv"):
		return RuntimePodman
	case exists("/.dockerenv"):
		return RuntimeDocker
	}
	return ""
}

// CapMask is the mask of capabilities named as CapNames names them; unknown
// names are returned apart.
func CapMask(names []string) (mask uint64, unknown []string) {
	for _, n := range names {
		i := slices.Index(capNames, n)
		if i < 0 {
			unknown = append(unknown, n)
			continue
		}
		mask |= 1 << i
	}
	return mask, unknown
}

// Items names every need but JVMCaps, as Missing.What names the unmet ones.
func (n Needs) Items() []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, c := range n.Caps {
		add("capability " + CapName(c))
	}
	if n.NoSeccomp {
		add("seccomp")
	}
	if n.Ptrace {
		add("ptrace")
	}
	return out
}

// baselineCaps are the capabilities the Baseline Pod Security Standard lets
// a container add (kubernetes/website
// content/en/docs/concepts/security/pod-security-standards.md,
// "Capabilities"); Baseline also forbids seccompProfile Unconfined, and
// Restricted allows adding NET_BIND_SERVICE only.
var baselineCaps = []int{29, CapChown, 1, 3, 4, 5, 27, 10, 31, 6, CapSetpcap, 7, 18}

// PodSecurity is the lowest Pod Security level under which n can be met,
// with the reason.
func PodSecurity(n Needs) string {
	var beyond []string
	for _, c := range append(slices.Clone(n.Caps), capList(n.JVMCaps)...) {
		if !slices.Contains(baselineCaps, c) && !slices.Contains(beyond, CapName(c)) {
			beyond = append(beyond, CapName(c))
		}
	}
	var why []string
	if len(beyond) > 0 {
		why = append(why, "adds "+strings.Join(beyond, ", ")+", beyond Baseline's capabilities")
	}
	if n.NoSeccomp {
		why = append(why, "needs seccompProfile Unconfined, which Baseline forbids")
	}
	if len(why) > 0 {
		return "privileged (" + strings.Join(why, "; ") + ")"
	}
	return "baseline (no capability beyond the defaults, the runtime's seccomp profile; restricted as well for an image that runs as non-root and drops every capability)"
}
