package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A warm-up whose every request got 404 warmed nothing: the checkpoint run
// fails with exit 3, says what the answers were, and leaves no image. The
// JVM is real (testdata/Service.java answers 404 outside /count and /exit).
func TestWarmupAgainst404FailsTheCheckpoint(t *testing.T) {
	s := newService(t, 0)
	r := s.start(t, "--mode=checkpoint", "--warmup-url="+s.url("/missing"), "--warmup-requests=20")
	if code := r.wait(t, 3*time.Minute); code != 3 {
		t.Fatalf("exit %d, want 3\nstdout: %s\nstderr: %s", code, r.stdout.String(), r.stderr.String())
	}
	for _, want := range []string{"0 of 20 requests answered 2xx", "20 × 404 Not Found", "STASIS_WARMUP_MIN_SUCCESS=0.95"} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "stasis.json")); err == nil {
		t.Fatal("a manifest was written after a failed warm-up")
	}
}
