package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// `stasis healthcheck` probes an https service: a self-signed certificate
// fails verification by default, and passes with STASIS_PROBE_INSECURE=true
// on loopback; insecure towards another host is refused (exit 2).
func TestHealthcheckHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state")
	startNS(t, []string{"STASIS_STATE_DIR=" + state}, "--mode=run", "--", "/bin/sleep", "60")
	waitControl(t, state)
	health := func(env ...string) (int, string) {
		cmd := exec.Command(stasisBin, "healthcheck")
		cmd.Env = append(append(os.Environ(), "STASIS_STATE_DIR="+state), env...)
		return runOutput(t, cmd)
	}
	if code, out := health("STASIS_HEALTH=" + srv.URL + "/health"); code != 1 || !strings.Contains(out, "certificate") {
		t.Fatalf("self-signed, verification on: exit %d: %s", code, out)
	}
	if code, out := health("STASIS_HEALTH="+srv.URL+"/health", "STASIS_PROBE_INSECURE=true"); code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("self-signed on loopback, STASIS_PROBE_INSECURE=true: exit %d: %s", code, out)
	}
	if code, out := health("STASIS_HEALTH=https://192.0.2.10:8443/health", "STASIS_PROBE_INSECURE=true"); code != 2 || !strings.Contains(out, "STASIS_PROBE_INSECURE") {
		t.Fatalf("insecure towards another host: exit %d: %s", code, out)
	}
}

// The binary stays under 8 MB with crypto/tls linked in (issue 12: https
// probes may grow it, within that bound). stasisBin is built as the
// Makefile builds it: static, -trimpath, -s -w.
func TestBinaryUnder8MB(t *testing.T) {
	fi, err := os.Stat(stasisBin)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 8<<20 {
		t.Fatalf("stasis is %d bytes, over 8 MiB", fi.Size())
	}
	t.Logf("stasis is %.2f MiB", float64(fi.Size())/(1<<20))
}

// A checkpoint run whose readiness probe and warm-up are https, against a
// self-signed loopback service: with STASIS_PROBE_INSECURE=true the run
// checkpoints (real CRIU, the criu engine dumping a plain process) after
// every warm-up request went over TLS; without it, readiness never holds.
func TestCheckpointWithHTTPSProbeAndWarmup(t *testing.T) {
	criu := needCRIU(t)
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			hits.Add(1)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	run := func(insecure string) (*stasisRun, string) {
		dir := filepath.Join(t.TempDir(), "img")
		r := startNS(t, []string{"STASIS_CRIU=" + criu, "STASIS_PROBE_INSECURE=" + insecure},
			"--mode=checkpoint", "--engine=criu", "--gc-before-checkpoint=false", "--image-dir="+dir,
			"--state-dir="+filepath.Join(filepath.Dir(dir), "state"), "--checkpoint-timeout=5s",
			"--checkpoint-on="+srv.URL+"/ready", "--warmup-url="+srv.URL+"/warm", "--warmup-requests=20",
			"--", "/bin/sleep", "600")
		return r, dir
	}
	r, dir := run("true")
	if code := r.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("insecure https checkpoint run: exit %d\n%s", code, r.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "stasis.json")); err != nil {
		t.Fatalf("no manifest: %v", err)
	}
	if n := hits.Load(); n < 21 {
		t.Fatalf("the service saw %d requests over TLS, want the readiness probe and 20 warm-up requests", n)
	}
	r, _ = run("false")
	if code := r.wait(t, 2*time.Minute); code != 3 || !strings.Contains(r.stderr.String(), "certificate") {
		t.Fatalf("verified https against a self-signed certificate: exit %d, want 3 naming the certificate\n%s", code, r.stderr.String())
	}
}
