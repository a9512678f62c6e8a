package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"stasis/supervisor/engine"
)

// Config is what `stasis doctor` checks the environment against: the
// configured mode, and what cmd/stasis resolved with engine.Resolve and
// the supervisor's plan and restorability check.
type Config struct {
	Mode       string // auto, checkpoint, restore, run
	Engine     string // the engine this start would use; "" when none could be chosen
	EngineErr  string // why there is none
	Checkpoint bool   // the settings ask this start to checkpoint (the plan's Wants)
	Restore    bool   // the settings ask this start to restore (the plan's Wants)
	CRIU       string // the criu binary found, or ""
	CRIUErr    string // why none was found
	JDK        JDK
	ImageDir   string
	Image      ImageState
	MinPID     int
	// ExpectedImageBytes is the disk space a checkpoint will take (an
	// earlier image's size, or an estimate).
	ExpectedImageBytes int64
	// OpenJ9API is STASIS_OPENJ9_API; Command the java command line;
	// OpenJ9 what OpenJ9's own dump needs (Doctor fills it).
	OpenJ9API string
	Command   []string
	OpenJ9    openJ9Facts
	// Privileges are the engine's needs for what this start does, each
	// judged by the engine's own rules (Privileges asks supervisor/engine):
	// the capabilities, seccomp and ptrace that the preflight before CRIU
	// checks too.
	Privileges []Privilege
	// PrivilegeNotes are facts about them, shown as information: the Pod
	// Security level each phase needs, CRIU's mode.
	PrivilegeNotes []Finding
	// ConfigErr is what is wrong with the configuration: the doctor reports
	// it as a finding and goes on with the rest.
	ConfigErr string
	// EngineFacts are the engine's own answers (supervisor/engine's Facts).
	EngineFacts EngineFacts
}

// EngineFacts are what the doctor asks the engine instead of its name; the
// privileges an engine needs arrive judged, in Privileges.
type EngineFacts struct {
	PreservesPIDs bool
	RestoreShm    bool // the restoring launcher needs a writable /dev/shm
	LibCRIU       bool // the JVM dumps itself through libcriu.so and the criu on PATH
}

// Privilege is one need of the engine for this start, met or not.
type Privilege struct {
	Name   string // "capability SYS_PTRACE", "seccomp", "ptrace"
	OK     bool
	Detail string
	Fix    string
}

// JDK is the JDK the command runs.
type JDK struct {
	Java    string `json:"java,omitempty"`
	Home    string `json:"home,omitempty"`
	Vendor  string `json:"vendor,omitempty"`
	Version string `json:"version,omitempty"`
	Flavour string `json:"flavour,omitempty"` // crac, openj9 or hotspot
	Err     string `json:"error,omitempty"`
}

// ImageState is what the image directory holds.
type ImageState struct {
	Present bool   // a manifest is there
	Problem string // why it cannot be restored (damaged, another command or engine)
	PID     int    // the JVM's PID in the image
	Bytes   int64
}

// Finding statuses. Only StatusMissing makes the doctor fail.
const (
	StatusOK      = "ok"
	StatusMissing = "missing"
	StatusWarning = "warning"
	StatusInfo    = "info"
)

// Finding is one item of the doctor's report. The JSON names are stable.
type Finding struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, missing, warning, info
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// DoctorReport is the doctor's answer: OK when nothing the configured mode
// needs is missing.
type Report struct {
	Mode       string    `json:"mode"`
	Engine     string    `json:"engine,omitempty"`
	Checkpoint bool      `json:"checkpoint"`
	Restore    bool      `json:"restore"`
	OK         bool      `json:"ok"`
	Findings   []Finding `json:"findings"`
}

// Doctor gathers this environment's facts and judges them against cfg.
func Run(ctx context.Context, cfg Config) *Report {
	if cfg.EngineFacts.LibCRIU {
		cfg.OpenJ9 = gatherOpenJ9(cfg.JDK.Home)
	}
	return Diagnose(cfg, Gather(ctx, cfg))
}

// Diagnose judges facts against what cfg needs. It is pure, so every rule
// is checked by table tests.
func Diagnose(cfg Config, f Facts) *Report {
	d := &diagnosis{cfg: cfg, f: f, r: &Report{Mode: cfg.Mode, Engine: cfg.Engine,
		Checkpoint: cfg.Checkpoint, Restore: cfg.Restore, OK: true}}
	d.config()
	d.engine()
	d.kernel()
	d.privileges()
	d.seccomp()
	d.ptrace()
	d.criu()
	d.openj9()
	d.imageDir()
	d.pid1()
	d.pidMax()
	d.shm()
	d.disk()
	return d.r
}

type diagnosis struct {
	cfg Config
	f   Facts
	r   *Report
}

// add records a finding; a missing item that this start does not need is
// only information.
func (d *diagnosis) add(name string, ok, needed bool, detail, fix string) {
	st := StatusOK
	switch {
	case ok:
		fix = ""
	case needed:
		st = StatusMissing
		d.r.OK = false
	default:
		st, fix = StatusInfo, "" // a fix for what nobody needs is noise
	}
	d.r.Findings = append(d.r.Findings, Finding{Name: name, Status: st, Detail: detail, Fix: fix})
}

func (d *diagnosis) warn(name, detail, fix string) {
	d.r.Findings = append(d.r.Findings, Finding{Name: name, Status: StatusWarning, Detail: detail, Fix: fix})
}

// active: this start checkpoints or restores (run mode and cold starts do
// neither, and need nothing of all this).
func (d *diagnosis) active() bool { return d.cfg.Checkpoint || d.cfg.Restore }

// preservesPIDs: the engine restores the JVM with its PID (all but warp).
func (d *diagnosis) preservesPIDs() bool {
	return d.cfg.Engine != "" && d.cfg.EngineFacts.PreservesPIDs
}

func (d *diagnosis) engine() {
	j := d.cfg.JDK
	switch {
	case j.Err != "":
		d.add("jdk", false, false, j.Err, "")
	default:
		d.add("jdk", true, false, fmt.Sprintf("%s %s (%s) at %s", orUnknown(j.Vendor), orUnknown(j.Version), j.Flavour, j.Home), "")
	}
	if d.cfg.Engine != "" {
		d.add("engine", true, false, d.cfg.Engine+doing(d.cfg), "")
		return
	}
	why := d.cfg.EngineErr
	if !strings.HasPrefix(why, "no checkpoint engine") {
		why = "no checkpoint engine: " + why
	}
	d.add("engine", false, d.active(), why,
		"use a CRaC JDK (Azul Zulu with CRaC), IBM Semeru (OpenJ9), or install CRIU 4.x in the image for any HotSpot JDK and set STASIS_CRIU")
}

func (d *diagnosis) config() {
	if d.cfg.ConfigErr == "" {
		d.add("configuration", true, false, "complete", "")
		return
	}
	d.add("configuration", false, true, d.cfg.ConfigErr,
		"fix the setting named (stasis --help lists every setting); the findings below assume the rest")
}

func doing(cfg Config) string {
	switch {
	case cfg.Checkpoint && cfg.Restore:
		return " (this start restores, else checkpoints)"
	case cfg.Checkpoint:
		return " (this start checkpoints)"
	case cfg.Restore:
		return " (this start restores)"
	}
	return " (this start neither checkpoints nor restores)"
}

func (d *diagnosis) kernel() {
	need := d.active() && d.preservesPIDs()
	if d.f.NsLastPID {
		d.add("kernel", true, need, "checkpoint/restore support (/proc/sys/kernel/ns_last_pid present)", "")
		return
	}
	d.add("kernel", false, need, "/proc/sys/kernel/ns_last_pid is missing: the kernel lacks CONFIG_CHECKPOINT_RESTORE or hides /proc/sys",
		"run on a kernel built with CONFIG_CHECKPOINT_RESTORE (every major distribution's is), or use an engine that needs no CRIU: STASIS_ENGINE="+strings.Join(engine.NamesWith(func(f engine.Facts) bool { return f.CRIU == engine.CRIUNone }), " or "))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// WriteText prints the report for people: one line per finding, and the
// fix under each one that is missing.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(f.Status), f.Name, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", f.Fix)
		}
	}
	if r.OK {
		fmt.Fprintf(tw, "\nready: everything mode %s needs is here\n", r.Mode)
	} else {
		fmt.Fprintf(tw, "\nnot ready: mode %s needs what is marked MISSING\n", r.Mode)
	}
	return tw.Flush()
}
