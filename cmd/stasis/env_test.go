package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The manifest records the environment by name with hashed values; a
// restore logs which variables differ, by name only; STASIS_RESTORE_ENV_MATCH
// makes a restore whose named variables differ start cold instead. Real
// JVM, real CRIU (the criu engine: the restored JVM keeps the checkpoint's
// environment, and stasis says so).
func TestRestoreComparesTheEnvironment(t *testing.T) {
	s := newService(t, 0)
	start := func(env []string, flags ...string) *stasisRun {
		args := append([]string{"--image-dir=" + s.dir, "--state-dir=" + s.state,
			"--checkpoint-on=" + s.url("/count"), "--stop-timeout=5s"}, flags...)
		args = append(append(args, "--"), s.command...)
		return startNS(t, append([]string{"STASIS_CRIU=" + s.criu}, env...), args...)
	}
	r := start([]string{"REGION=eu", "API_TOKEN=s3cr3t-value"})
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint run exit %d\n%s", code, r.stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(s.dir, "stasis.json"))
	if !strings.Contains(string(b), `"API_TOKEN"`) || strings.Contains(string(b), "s3cr3t-value") {
		t.Fatalf("the manifest must name API_TOKEN and not hold its value:\n%s", b)
	}

	// Another token: restored, and the log names the variable, not its values.
	r = start([]string{"REGION=eu", "API_TOKEN=other-value"})
	get(t, s.url("/count"), 30*time.Second)
	r.waitOutput(t, "INF restored ", 10*time.Second)
	log := r.stderr.String()
	if !strings.Contains(log, "the environment differs from the checkpoint's") || !strings.Contains(log, "API_TOKEN") ||
		!strings.Contains(log, "keeps the checkpoint's values") || strings.Contains(log, "other-value") || strings.Contains(log, "s3cr3t") {
		t.Fatalf("restore log:\n%s", log)
	}
	stopAndWait(t, r)

	// REGION must match: another region starts cold (not a restore failure:
	// cold even with STASIS_ON_RESTORE_FAILURE=fail).
	r = start([]string{"REGION=us", "API_TOKEN=s3cr3t-value", "STASIS_RESTORE_ENV_MATCH=REGION,OTHER"}, "--on-restore-failure=fail")
	get(t, s.url("/count"), 30*time.Second)
	r.waitOutput(t, "starting cold instead of restoring", 10*time.Second)
	if strings.Contains(r.stderr.String(), "INF restored ") || !strings.Contains(r.stderr.String(), "REGION differ") {
		t.Fatalf("want a cold start naming REGION:\n%s", r.stderr.String())
	}
	stopAndWait(t, r)

	// The same region restores.
	r = start([]string{"REGION=eu", "API_TOKEN=s3cr3t-value", "STASIS_RESTORE_ENV_MATCH=REGION"})
	get(t, s.url("/count"), 30*time.Second)
	r.waitOutput(t, "INF restored ", 10*time.Second)
	stopAndWait(t, r)
}

func stopAndWait(t *testing.T, r *stasisRun) {
	t.Helper()
	_ = syscall.Kill(r.hostPID, syscall.SIGTERM)
	r.wait(t, time.Minute)
}
