package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"stasis/control"
	"stasis/supervisor"
)

// cmdStatus is `stasis status [--json]`: what the running stasis says about
// itself. --json prints supervisor.Status, whose field names are stable:
//
//	phase          launching, waiting-ready, warming, checkpointing, restoring, running, stopping
//	mode           auto, checkpoint, restore, run
//	engine         crac, warp, openj9, criu (absent when none)
//	pid            the JVM's PID in the container (absent before launch)
//	start          cold, restored, cold-after-restore-failure (absent before the JVM runs)
//	restore_ms     how long the restore took, from the decision to the running JVM
//	restore_error  why the restore failed, when it did
//	restore        a successful restore's phases, in ms: startup_ms (stasis's
//	               own start, before the restore), then from the restore's
//	               start: check_ms (the image's checks: sizes or checksums,
//	               PID, capabilities; the manifest is read in start-up),
//	               criu_ms (the engine's restore), ready_ms (first answer of
//	               the http or tcp probe of STASIS_CHECKPOINT_ON; absent
//	               without one or until then),
//	               checksums_ms and checksums_during_criu (true: they ran
//	               while CRIU restored, the JVM held until they passed),
//	               kerndat (CRIU's kernel probe: "cache", or "probe (why)"),
//	               kerndat_retried (a restore with the cache failed, this one
//	               probed in full)
//	started_at     when stasis started (RFC 3339)
//	uptime_ms      milliseconds since started_at
//	last_probe     the last readiness probe's outcome
//	health_probe   the probe `stasis healthcheck` runs
//	plan           what this start does and why (supervisor.Plan): action
//	               (restore, checkpoint, cold, run, fail), wants (what the
//	               settings and the image directory ask for), reasons; after
//	               a failed restore, the fallback's
//
// It exits 0 with an answer, 1 when stasis does not answer.
func cmdStatus(args []string, environ map[string]string, stdout, stderr io.Writer) error {
	var asJSON bool
	cfg, rest, err := subConfig("status", args, environ, stdout, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout(cfg))
	defer cancel()
	st, err := askStatus(ctx, cfg.StateDir, control.OpStatus)
	if err != nil {
		return errors.New(noAnswer(cfg.StateDir, err))
	}
	if asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	printStatus(stdout, st)
	return nil
}

// statusTimeout is STASIS_HEALTH_TIMEOUT, or a few seconds when it is 0.
func statusTimeout(cfg Config) time.Duration {
	if cfg.HealthTimeout > 0 {
		return cfg.HealthTimeout
	}
	return 5 * time.Second
}

func printStatus(w io.Writer, st supervisor.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("phase", st.Phase)
	row("mode", st.Mode)
	row("engine", st.Engine)
	if st.PID > 0 {
		row("pid", fmt.Sprint(st.PID))
	}
	row("start", startLine(st))
	if p := st.Plan; p != nil {
		row("plan", string(p.Action)+": "+strings.Join(p.Reasons, "; "))
	}
	if r := st.Restore; r != nil {
		row("restore phases", restorePhases(r))
	}
	row("restore error", st.RestoreError)
	row("uptime", (time.Duration(st.UptimeMS) * time.Millisecond).String())
	row("started at", st.StartedAt.Format(time.RFC3339))
	row("health probe", st.Health)
	row("last probe", st.LastProbe)
	tw.Flush()
}

func startLine(st supervisor.Status) string {
	switch st.Start {
	case supervisor.StartRestored:
		return fmt.Sprintf("restored in %d ms", st.RestoreMS)
	case supervisor.StartColdFailure:
		return "cold, after a failed restore"
	}
	return st.Start
}

// restorePhases is one line: start-up 3 ms, check 2 ms, criu 61 ms
// (kerndat cache), ready at 81 ms, checksums 12 ms during criu.
func restorePhases(r *supervisor.RestorePhases) string {
	line := fmt.Sprintf("start-up %d ms, check %d ms, criu %d ms", r.StartupMS, r.CheckMS, r.CRIUMS)
	if r.Kdat != "" {
		line += " (kerndat " + r.Kdat + ")"
	}
	if r.ReadyMS > 0 {
		line += fmt.Sprintf(", ready at %d ms", r.ReadyMS)
	}
	if r.VerifyHeld {
		line += fmt.Sprintf(", checksums %d ms during criu", r.VerifyMS)
	}
	return line
}
