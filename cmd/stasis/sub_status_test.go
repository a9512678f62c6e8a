package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"stasis/control"
	"stasis/supervisor"
)

// serveStatus answers the control socket in a fresh state directory with st,
// as a running stasis does, and refuses checkpoints.
func serveStatus(t *testing.T, st supervisor.Status) string {
	t.Helper()
	dir := t.TempDir()
	srv, err := control.Listen(dir, func(_ context.Context, req control.Request) control.Response {
		if req.Op == control.OpCheckpoint {
			return control.Response{Error: "not waiting for a manual checkpoint (phase running)"}
		}
		b, _ := json.Marshal(st)
		return control.Response{OK: true, Data: b}
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return dir
}

func runSub(args []string, env map[string]string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runCode(args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestStatusText(t *testing.T) {
	dir := serveStatus(t, supervisor.Status{Phase: "running", Mode: "auto", Engine: "criu", PID: 1001,
		Start: "restored", RestoreMS: 87, StartedAt: time.Now(), UptimeMS: 61000, Health: "http://127.0.0.1:8080/health",
		Plan: &supervisor.Decision{Action: supervisor.ActRestore, Wants: supervisor.ActRestore, Reasons: []string{"an image is in /checkpoint", "it passed its 9 checks"}}})
	code, out, errs := runSub([]string{"status"}, map[string]string{"STASIS_STATE_DIR": dir})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"phase:", "running", "pid:", "1001", "restored in 87 ms", "uptime:", "1m1s", "criu", "http://127.0.0.1:8080/health",
		"plan:", "restore: an image is in /checkpoint; it passed its 9 checks"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

func TestSubcommandsWithoutStasis(t *testing.T) {
	env := map[string]string{"STASIS_STATE_DIR": t.TempDir()}
	for _, sub := range []string{"healthcheck", "status", "checkpoint"} {
		code, out, errs := runSub([]string{sub}, env)
		if code != 1 || !strings.Contains(out+errs, "no control socket") {
			t.Errorf("%s with no stasis: exit %d: %s%s", sub, code, out, errs)
		}
	}
}

func TestSubcommandBadUse(t *testing.T) {
	for _, args := range [][]string{{"healthcheck", "extra"}, {"status", "--bogus"}, {"checkpoint", "x"}, {"inspect", "a", "b"}} {
		if code, _, _ := runSub(args, map[string]string{}); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	code, _, errs := runSub([]string{"healthcheck"}, map[string]string{"STASIS_HEALTH_TIMEOUT": "soon"})
	if code != 2 || !strings.Contains(errs, "STASIS_HEALTH_TIMEOUT") {
		t.Fatalf("bad setting: exit %d: %s", code, errs)
	}
}

func TestCheckpointRefusedSaysWhy(t *testing.T) {
	dir := serveStatus(t, supervisor.Status{Phase: "running"})
	code, _, errs := runSub([]string{"checkpoint"}, map[string]string{"STASIS_STATE_DIR": dir})
	if code != 1 || !strings.Contains(errs, "not waiting for a manual checkpoint") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestHealthcheckNoProbeRunningIsHealthy(t *testing.T) {
	dir := serveStatus(t, supervisor.Status{Phase: "running", Start: "cold"})
	code, out, _ := runSub([]string{"healthcheck"}, map[string]string{"STASIS_STATE_DIR": dir})
	if code != 0 || !strings.Contains(out, "no health probe") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// The probe of STASIS_CHECKPOINT_ON is the default: nothing listens there.
	port := freePort(t)
	code, out, _ = runSub([]string{"healthcheck"}, map[string]string{"STASIS_STATE_DIR": dir,
		"STASIS_CHECKPOINT_ON": "tcp://127.0.0.1:" + strconv.Itoa(port)})
	if code != 1 || !strings.Contains(out, "probe failed") || !strings.Contains(out, "refused") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// A restore's phases are one line of `stasis status`, and keep their JSON
// names in `stasis status --json`.
func TestStatusRestorePhases(t *testing.T) {
	ph := &supervisor.RestorePhases{StartupMS: 3, CheckMS: 1, CRIUMS: 61, ReadyMS: 70, VerifyMS: 12, VerifyHeld: true, Kdat: "cache"}
	dir := serveStatus(t, supervisor.Status{Phase: "running", Mode: "auto", Engine: "criu", PID: 1001,
		Start: "restored", RestoreMS: 62, StartedAt: time.Now(), Restore: ph})
	code, out, errs := runSub([]string{"status"}, map[string]string{"STASIS_STATE_DIR": dir})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "start-up 3 ms, check 1 ms, criu 61 ms (kerndat cache), ready at 70 ms, checksums 12 ms during criu"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	code, out, errs = runSub([]string{"status", "--json"}, map[string]string{"STASIS_STATE_DIR": dir})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{`"restore": {`, `"startup_ms": 3`, `"check_ms": 1`, `"criu_ms": 61`, `"ready_ms": 70`, `"checksums_ms": 12`, `"checksums_during_criu": true`, `"kerndat": "cache"`} {
		if !strings.Contains(out, want) {
			t.Errorf("status --json lacks %s:\n%s", want, out)
		}
	}
}
