package doctor

import (
	"fmt"
)

// privileges shows the engine's needs for this start, as the engine judged
// them: one finding per need.
func (d *diagnosis) privileges() {
	if !d.active() || len(d.cfg.Privileges) == 0 {
		d.add("capabilities", true, false, "none needed"+doing(d.cfg), "")
		return
	}
	for _, p := range d.cfg.Privileges {
		d.add(p.Name, p.OK, true, p.Detail, p.Fix)
	}
	for _, n := range d.cfg.PrivilegeNotes {
		n.Status = StatusInfo
		d.r.Findings = append(d.r.Findings, n)
	}
}

// seccomp and ptrace are the state, for information, where no need above
// judged them.
func (d *diagnosis) seccomp() {
	if d.judged("seccomp") {
		return
	}
	mode := map[int]string{0: "disabled", 1: "strict", 2: "filter"}[d.f.Seccomp]
	if mode == "" {
		mode = "unknown (no Seccomp line in /proc/self/status)"
	}
	d.add("seccomp", true, false, mode+" (no phase of this start needs it off)", "")
}

func (d *diagnosis) ptrace() {
	if d.judged("ptrace") {
		return
	}
	if d.f.PtraceScope < 0 {
		d.add("ptrace_scope", true, false, "no Yama: ptrace is governed by capabilities alone", "")
		return
	}
	d.add("ptrace_scope", true, false, fmt.Sprintf("kernel.yama.ptrace_scope is %d", d.f.PtraceScope), "")
}

func (d *diagnosis) judged(name string) bool {
	for _, p := range d.cfg.Privileges {
		if p.Name == name {
			return true
		}
	}
	return false
}

// criuBinary names the finding about the criu executable (not the engine
// of that name).
const criuBinary = "criu binary"

func (d *diagnosis) criu() {
	need := d.active() && d.preservesPIDs()
	if d.cfg.CRIU == "" {
		why := d.cfg.CRIUErr
		if why == "" {
			why = "no criu found"
		}
		d.add(criuBinary, false, need, why,
			"install CRIU 4.x in the image and set STASIS_CRIU=/path/to/criu (CRaC JDKs ship one as lib/criu)")
		return
	}
	if d.f.CRIUVersion == "" {
		d.add(criuBinary, false, need, fmt.Sprintf("%s does not run: %s", d.cfg.CRIU, d.f.CRIUCheck), "install a CRIU 4.x that runs here and set STASIS_CRIU")
		return
	}
	d.add(criuBinary, true, need, fmt.Sprintf("%s, version %s", d.cfg.CRIU, d.f.CRIUVersion), "")
	// `criu check` as a whole is no verdict: it fails on a read-only
	// ns_last_pid and on nftables, and without SYS_ADMIN, where dump and
	// restore work (issue 12). The needs above are judged one by one.
	if d.f.CRIUCheckOK {
		d.add("criu check", true, false, "Looks good.", "")
		return
	}
	d.r.Findings = append(d.r.Findings, Finding{Name: "criu check", Status: StatusInfo,
		Detail: d.f.CRIUCheck + " (not a verdict: it tests more than this engine needs; the findings above judge each need)"})
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
