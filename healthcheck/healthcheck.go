package healthcheck

import (
	"context"
	"errors"
	"fmt"
)

// Phase is what `stasis healthcheck` needs to know of the running stasis:
// the phase and how this start happened, as its control socket reports them.
// cmd/stasis fills it from the supervisor's Status, so this package stays at
// the bottom of the import graph.
type Phase struct {
	Phase        string // launching, waiting-ready, warming, checkpointing, restoring, running, stopping
	Start        string // cold, restored, cold-after-restore-failure
	RestoreError string
}

// Verdict is the answer of one healthcheck: Healthy, and one line saying why.
type Verdict struct {
	Healthy bool
	Reason  string
}

// notRunning are the phases in which the JVM cannot serve yet (or any
// more), with the words the healthcheck uses for them.
var notRunning = map[string]string{
	"launching":     "starting: the JVM is being launched",
	"waiting-ready": "starting: waiting for readiness",
	"warming":       "starting: warming up before the checkpoint",
	"checkpointing": "checkpointing",
	"restoring":     "starting: restoring from the image",
	"stopping":      "stopping",
}

// Judge decides health from the phase and, only while the JVM runs, one
// attempt of probe (nil: no probe configured, running is healthy). It never
// probes in other phases: a connection to a JVM being checkpointed would be
// captured by the dump.
func Judge(ctx context.Context, ph Phase, probe Probe) Verdict {
	if why, ok := notRunning[ph.Phase]; ok {
		return Verdict{Reason: why}
	}
	if ph.Phase != "running" {
		return Verdict{Reason: fmt.Sprintf("unknown phase %q", ph.Phase)}
	}
	how := startWords(ph)
	if probe == nil {
		return Verdict{Healthy: true, Reason: "running (" + how + "; no health probe configured)"}
	}
	if err := probe.ProbeOnce(ctx); err != nil {
		prefix := "probe failed"
		if ph.Start == "cold-after-restore-failure" {
			prefix = "restore failed and cold start under way: probe failed"
		}
		return Verdict{Reason: fmt.Sprintf("%s: %s", prefix, probeError(ctx, err))}
	}
	return Verdict{Healthy: true, Reason: fmt.Sprintf("healthy: running (%s), %s answered", how, probe)}
}

func startWords(ph Phase) string {
	switch ph.Start {
	case "restored":
		return "restored"
	case "cold-after-restore-failure":
		if ph.RestoreError != "" {
			return "cold start after a failed restore: " + ph.RestoreError
		}
		return "cold start after a failed restore"
	}
	return "cold start"
}

// probeError adds the status code of an HTTP answer, and says plainly when
// the probe ran out of time.
func probeError(ctx context.Context, err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("status %d (%s)", se.Code, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return "no answer in time: " + err.Error()
	}
	return err.Error()
}
