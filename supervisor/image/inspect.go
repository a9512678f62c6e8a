package image

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Check is one question about an image, answered.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Err    error  `json:"-"` // why it failed, typed (supervisor's EnvChangedError)
}

// Report is what `stasis inspect` shows. The JSON names are stable.
type Report struct {
	Dir        string    `json:"dir"`
	Manifest   *Manifest `json:"manifest,omitempty"`
	Restorable bool      `json:"restorable"`
	Checks     []Check   `json:"checks"`
	// Plan is what a start with these settings would do here, and why
	// (supervisor's Plan, with these checks); "" when not asked.
	Plan    string `json:"plan,omitempty"`
	readErr error  // why the manifest could not be read
}

// NewReport is the report on the image in dir: its manifest (or why none
// could be read) and the restorability checks' verdicts (supervisor's
// CheckRestorable, which this package cannot import).
func NewReport(dir string, m *Manifest, readErr error, checks []Check) *Report {
	r := &Report{Dir: dir, Manifest: m, Checks: checks, readErr: readErr, Restorable: len(checks) > 0}
	for _, c := range checks {
		r.Restorable = r.Restorable && c.OK
	}
	return r
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
		fmt.Fprintf(tw, "size:\t%s in %d files\n", Megabytes(m.ImageBytes), len(m.Files))
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
	if r.Plan != "" {
		fmt.Fprintf(tw, "a start here: %s\n", r.Plan)
	}
	return tw.Flush()
}

// NoImage says whether the directory holds no manifest at all, as opposed
// to a bad one.
func (r *Report) NoImage() bool { return errors.Is(r.readErr, ErrNoImage) }

// Megabytes is n bytes as people read an image's size.
func Megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
