package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Here is what a restore needs from this environment, gathered by the
// caller: the engines and the PID space live above this package.
type Here struct {
	// CRIU finds the criu binary the image's engine needs; nil when the
	// engine needs none of its own (warp), or finding it is not wanted.
	CRIU func(engine string) (string, error)
	// PreservesPIDs says whether the engine restores the JVM with its
	// checkpoint-time PID, which must then be free.
	PreservesPIDs func(engine string) bool
	// PIDHolder says whether pid is free here, and if not, who holds it.
	PIDHolder func(pid int) (free bool, who string, err error)
	// CPUBound says whether stasis compares the CPU's features before it
	// restores an image of the engine (the runtime does not check them).
	CPUBound func(engine string) bool
	// HostCPU reads this host's CPU features.
	HostCPU func() (CPU, error)
}

// Check is one question about an image, answered.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is what `stasis inspect` shows. The JSON names are stable.
type Report struct {
	Dir        string    `json:"dir"`
	Manifest   *Manifest `json:"manifest,omitempty"`
	Restorable bool      `json:"restorable"`
	Checks     []Check   `json:"checks"`
	readErr    error     // why the manifest could not be read
}

// Inspect reads the image in dir and answers whether it can be restored
// here: a manifest this stasis reads, files that match it, the JVM's
// executable present, criu found, the JVM's PID free.
func Inspect(dir string, here Here) *Report {
	r := &Report{Dir: dir}
	m, err := Read(dir)
	if err != nil {
		r.readErr = err
		r.add("manifest", false, err.Error())
		return r
	}
	r.Manifest = m
	r.add("manifest", true, fmt.Sprintf("format %d, written by stasis %s", m.Format, m.StasisVersion))
	if err := m.Verify(dir); err != nil {
		r.add("files", false, err.Error())
	} else {
		r.add("files", true, fmt.Sprintf("%d files, %s, sizes and checksums match", len(m.Files), megabytes(m.ImageBytes)))
	}
	r.checkJava(m)
	r.checkCRIU(m, here)
	r.checkPID(m, here)
	r.checkCPU(m, here)
	r.Restorable = true
	for _, c := range r.Checks {
		r.Restorable = r.Restorable && c.OK
	}
	return r
}

func (r *Report) add(name string, ok bool, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: detail})
}

func (r *Report) checkJava(m *Manifest) {
	if m.Java == "" {
		return // not a java command (the criu engine checkpoints any process)
	}
	if _, err := os.Stat(m.Java); err != nil {
		r.add("java", false, fmt.Sprintf("the JVM's executable is missing: %v", err))
		return
	}
	r.add("java", true, m.Java)
}

// checkCPU is the restore's CPU verdict, or the engine's own check.
func (r *Report) checkCPU(m *Manifest, here Here) {
	if here.CPUBound == nil || here.HostCPU == nil || m.CPU == nil {
		return
	}
	if !here.CPUBound(m.Engine) {
		r.add("cpu", true, "the "+m.Engine+" runtime checks the CPU's features itself at restore")
		return
	}
	host, err := here.HostCPU()
	if err != nil {
		r.add("cpu", false, err.Error())
		return
	}
	if err := m.CheckCPU(host); err != nil {
		r.add("cpu", false, err.Error())
		return
	}
	r.add("cpu", true, fmt.Sprintf("%s: all %d features the image was made with are present", m.CPU.Arch, len(m.CPU.Features)))
}

func (r *Report) checkCRIU(m *Manifest, here Here) {
	if here.CRIU == nil {
		return
	}
	p, err := here.CRIU(m.Engine)
	switch {
	case err != nil:
		r.add("criu", false, err.Error())
	case p != "":
		r.add("criu", true, p)
	}
}

func (r *Report) checkPID(m *Manifest, here Here) {
	if here.PreservesPIDs == nil || !here.PreservesPIDs(m.Engine) || here.PIDHolder == nil {
		return
	}
	free, who, err := here.PIDHolder(m.PID)
	switch {
	case err != nil:
		r.add("pid", false, fmt.Sprintf("cannot tell whether pid %d is free: %v", m.PID, err))
	case !free:
		r.add("pid", false, fmt.Sprintf("pid %d is taken: %s", m.PID, who))
	default:
		r.add("pid", true, fmt.Sprintf("pid %d is free", m.PID))
	}
}

// WriteText prints the report for people: the manifest, then each check.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "image:\t%s\n", r.Dir)
	if m := r.Manifest; m != nil {
		fmt.Fprintf(tw, "engine:\t%s\n", m.Engine)
		fmt.Fprintf(tw, "command:\t%s\n", strings.Join(m.Command, " "))
		if m.JavaVersion != "" {
			fmt.Fprintf(tw, "java:\t%s (%s)\n", m.Java, m.JavaVersion)
		} else if m.Java != "" {
			fmt.Fprintf(tw, "java:\t%s\n", m.Java)
		}
		fmt.Fprintf(tw, "pid:\t%d\n", m.PID)
		fmt.Fprintf(tw, "created:\t%s (%s ago) by stasis %s\n", m.Created.Format(time.RFC3339),
			time.Since(m.Created).Round(time.Second), m.StasisVersion)
		fmt.Fprintf(tw, "size:\t%s in %d files\n", megabytes(m.ImageBytes), len(m.Files))
		fmt.Fprintf(tw, "checkpoint run:\tready after %d ms, warm-up %d ms, dump %d ms\n",
			m.Phases.LaunchToReadyMS, m.Phases.WarmupMS, m.Phases.DumpMS)
	}
	fmt.Fprintln(tw)
	for _, c := range r.Checks {
		mark := "ok"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, c.Name, c.Detail)
	}
	verdict := "restorable here: yes"
	if !r.Restorable {
		verdict = "restorable here: no"
	}
	fmt.Fprintf(tw, "\n%s\n", verdict)
	return tw.Flush()
}

// NoImage says whether the directory holds no manifest at all, as opposed
// to a bad one.
func (r *Report) NoImage() bool { return errors.Is(r.readErr, ErrNoImage) }

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
