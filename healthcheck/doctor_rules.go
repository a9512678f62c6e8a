package healthcheck

import (
	"fmt"
	"slices"
	"strings"
)

// Capability numbers (linux/capability.h).
const (
	capSetpcap           = 8
	capSysPtrace         = 19
	capSysAdmin          = 21
	capCheckpointRestore = 40 // Linux 5.9
)

var capNames = map[int]string{capSetpcap: "SETPCAP", capSysPtrace: "SYS_PTRACE",
	capSysAdmin: "SYS_ADMIN", capCheckpointRestore: "CHECKPOINT_RESTORE"}

// neededCaps lists the capabilities the engine says it needs for what this
// start does (docs/runtimes.md).
func neededCaps(f EngineFacts, checkpoint, restore bool) []int {
	var caps []int
	if checkpoint {
		caps = append(caps, f.CheckpointCaps...)
	}
	if restore {
		for _, c := range f.RestoreCaps {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	return caps
}

// has says whether the effective set holds c; SYS_ADMIN stands in for
// CHECKPOINT_RESTORE, as it did before Linux 5.9.
func (f Facts) has(c int) bool {
	if f.CapEff&(1<<c) != 0 {
		return true
	}
	return c == capCheckpointRestore && f.CapEff&(1<<capSysAdmin) != 0
}

func (d *diagnosis) capabilities() {
	caps := neededCaps(d.cfg.EngineFacts, d.cfg.Checkpoint, d.cfg.Restore)
	if d.f.CapErr != "" {
		d.add("capabilities", false, len(caps) > 0, "cannot read CapEff: "+d.f.CapErr, "")
		return
	}
	if len(caps) == 0 {
		d.add("capabilities", true, false, "none needed"+doing(d.cfg), "")
		return
	}
	fix := capFix(caps, d.f.CapLast)
	for _, c := range caps {
		name := "capability " + capNames[c]
		if d.f.has(c) {
			d.add(name, true, true, "present", "")
			continue
		}
		d.add(name, false, true, fmt.Sprintf("CAP_%s is not in the effective set (CapEff %016x)", capNames[c], d.f.CapEff), fix)
	}
}

// capFix says how to grant caps, in Docker's and Kubernetes' words. A
// kernel older than 5.9 has no CHECKPOINT_RESTORE: SYS_ADMIN then.
func capFix(caps []int, capLast int) string {
	var names []string
	for _, c := range caps {
		n := capNames[c]
		if c == capCheckpointRestore && capLast > 0 && capLast < capCheckpointRestore {
			n = "SYS_ADMIN"
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var docker []string
	for _, n := range names {
		docker = append(docker, "--cap-add="+n)
	}
	return fmt.Sprintf("docker run %s …; Kubernetes: securityContext: {capabilities: {add: [%s]}}",
		strings.Join(docker, " "), strings.Join(names, ", "))
}

func (d *diagnosis) seccomp() {
	// Only OpenJ9's checkpoint is known to need seccomp off (docs/runtimes.md).
	need := d.cfg.Engine == "openj9" && d.cfg.Checkpoint
	switch d.f.Seccomp {
	case 0:
		d.add("seccomp", true, need, "disabled", "")
	case 1, 2:
		mode := map[int]string{1: "strict", 2: "filter"}[d.f.Seccomp]
		d.add("seccomp", false, need, "mode "+mode+" (the runtime's seccomp profile applies)",
			"docker run --security-opt seccomp=unconfined …; Kubernetes: securityContext: {seccompProfile: {type: Unconfined}}")
	default:
		d.add("seccomp", false, false, "unknown (no Seccomp line in /proc/self/status)", "")
	}
}

func (d *diagnosis) ptrace() {
	need := d.cfg.Checkpoint && d.preservesPIDs()
	switch {
	case d.f.PtraceScope < 0:
		d.add("ptrace_scope", true, need, "no Yama: ptrace is governed by capabilities alone", "")
	case d.f.PtraceScope == 3:
		d.add("ptrace_scope", false, need, "kernel.yama.ptrace_scope is 3: no process may ptrace, so CRIU cannot dump",
			"on the host: sysctl -w kernel.yama.ptrace_scope=1 (3 can only be lowered by a reboot)")
	default:
		d.add("ptrace_scope", true, need, fmt.Sprintf("kernel.yama.ptrace_scope is %d (CAP_SYS_PTRACE suffices)", d.f.PtraceScope), "")
	}
}

func (d *diagnosis) criu() {
	need := d.active() && d.preservesPIDs()
	if d.cfg.CRIU == "" {
		why := d.cfg.CRIUErr
		if why == "" {
			why = "no criu found"
		}
		d.add("criu", false, need, why,
			"install CRIU 4.x in the image and set STASIS_CRIU=/path/to/criu (CRaC JDKs ship one as lib/criu)")
		return
	}
	if d.f.CRIUVersion == "" {
		d.add("criu", false, need, fmt.Sprintf("%s does not run: %s", d.cfg.CRIU, d.f.CRIUCheck), "install a CRIU 4.x that runs here and set STASIS_CRIU")
		return
	}
	d.add("criu", true, need, fmt.Sprintf("%s, version %s", d.cfg.CRIU, d.f.CRIUVersion), "")
	if d.f.CRIUCheckOK {
		d.add("criu check", true, need, "Looks good.", "")
		return
	}
	d.add("criu check", false, need, d.f.CRIUCheck,
		"give the container the capabilities above (criu check needs them too); on a kernel without checkpoint support, use STASIS_ENGINE=warp")
}

func (d *diagnosis) imageDir() {
	dir := d.cfg.ImageDir
	img := d.cfg.Image
	switch {
	case img.Present && img.Problem == "":
		d.add("image", true, d.cfg.Restore, fmt.Sprintf("%s holds a complete image for this command (%.1f MB, pid %d)", dir, mb(img.Bytes), img.PID), "")
	case img.Present:
		d.add("image", false, d.cfg.Restore && !d.cfg.Checkpoint, fmt.Sprintf("%s holds an image that cannot be restored: %s", dir, img.Problem),
			"checkpoint again with this command (STASIS_MODE=checkpoint), or point STASIS_IMAGE_DIR at the right image")
	default:
		d.add("image", false, d.cfg.Restore && !d.cfg.Checkpoint, dir+" holds no image (no stasis.json)",
			"run the checkpoint first (STASIS_MODE=checkpoint with STASIS_CHECKPOINT_ON) and keep its image directory, or point STASIS_IMAGE_DIR at it")
	}
	if d.f.ImageDirWritable == "" {
		d.add("image dir writable", true, d.cfg.Checkpoint, dir+" is writable", "")
		return
	}
	d.add("image dir writable", false, d.cfg.Checkpoint, d.f.ImageDirWritable,
		fmt.Sprintf("mount a writable volume at %s (docker run -v stasis-image:%s; Kubernetes: a volumeMount without readOnly), or set STASIS_IMAGE_DIR", dir, dir))
}

func (d *diagnosis) pid1() {
	if d.f.PID1 == "" || d.f.IsStasisPID1 {
		d.add("pid 1", true, false, "stasis is PID 1", "")
		return
	}
	if !d.active() {
		d.add("pid 1", false, false, fmt.Sprintf("PID 1 is %s, not stasis", d.f.PID1), "")
		return
	}
	d.warn("pid 1", fmt.Sprintf("PID 1 is %s, not stasis: CRIU's helpers and restored PIDs are PID 1's business", d.f.PID1),
		`make stasis the ENTRYPOINT (ENTRYPOINT ["/stasis", "--", "java", …]) without docker run --init or a shared process namespace`)
}

// pidHeadroom is room for the JVM's threads above STASIS_MIN_PID: each
// thread takes an ID from the same space, and CRIU restores them all.
const pidHeadroom = 1000

func (d *diagnosis) pidMax() {
	need := d.active() && d.preservesPIDs()
	if d.f.PIDMax <= 0 {
		d.add("pid_max", false, false, "cannot read /proc/sys/kernel/pid_max", "")
		return
	}
	want := d.cfg.MinPID + pidHeadroom
	if d.cfg.Image.PID+pidHeadroom > want && d.cfg.Restore {
		want = d.cfg.Image.PID + pidHeadroom
	}
	if d.f.PIDMax >= want {
		d.add("pid_max", true, need, fmt.Sprintf("%d, room above STASIS_MIN_PID=%d", d.f.PIDMax, d.cfg.MinPID), "")
		return
	}
	d.add("pid_max", false, need, fmt.Sprintf("kernel.pid_max is %d: too small for STASIS_MIN_PID=%d and the JVM's threads (want %d)", d.f.PIDMax, d.cfg.MinPID, want),
		fmt.Sprintf("lower STASIS_MIN_PID, or raise kernel.pid_max on the host (sysctl -w kernel.pid_max=%d)", want*2))
}

func (d *diagnosis) shm() {
	// CRaC's restoring launcher hands settings to the restored JVM through
	// POSIX shared memory.
	need := d.cfg.Restore && d.cfg.EngineFacts.RestoreShm
	if d.f.ShmWritable == "" {
		d.add("/dev/shm", true, need, "writable", "")
		return
	}
	d.add("/dev/shm", false, need, d.f.ShmWritable,
		"give the container a writable /dev/shm (Docker has one unless mounted read-only; Kubernetes: an emptyDir with medium: Memory at /dev/shm)")
}

func (d *diagnosis) disk() {
	if d.f.FreeBytes < 0 {
		d.add("disk", false, false, "cannot tell the free space at "+d.cfg.ImageDir+": "+d.f.FreeErr, "")
		return
	}
	detail := fmt.Sprintf("%.0f MB free at %s, the image needs about %.0f MB", mb(d.f.FreeBytes), d.cfg.ImageDir, mb(d.cfg.ExpectedImageBytes))
	d.add("disk", d.f.FreeBytes >= d.cfg.ExpectedImageBytes, d.cfg.Checkpoint, detail,
		fmt.Sprintf("free space at %s, or mount a larger volume there (at least %.0f MB)", d.cfg.ImageDir, mb(d.cfg.ExpectedImageBytes)))
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
