package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/supervisor"
)

// demoJars are the demo service's libraries from Debian's packages.
var demoJars = []string{"jetty9-server", "jetty9-http", "jetty9-io", "jetty9-util", "servlet-api",
	"jackson-databind", "jackson-core", "jackson-annotations"}

// demoService is the Jetty and Jackson service of `make demo`.
func demoService(b *testing.B) *service {
	var cp []string
	for _, j := range demoJars {
		p := "/usr/share/java/" + j + ".jar"
		if _, err := os.Stat(p); err != nil {
			b.Skipf("%s missing (make deps installs libjetty9-java and libjackson2-databind-java)", p)
		}
		cp = append(cp, p)
	}
	s := newService(b, 0)
	classes := b.TempDir()
	if out, err := exec.Command("javac", "-d", classes, "-cp", strings.Join(cp, ":"), "../../demo/DemoService.java").CombinedOutput(); err != nil {
		b.Fatalf("javac: %v\n%s", err, out)
	}
	s.command = []string{"java", "-cp", strings.Join(append([]string{classes}, cp...), ":"), "DemoService", fmt.Sprint(s.port)}
	return s
}

// BenchmarkRestoreVersusCold measures, in one run and alternating, the time
// from starting stasis to the first successful response of a cold start, of
// a restore by stasis, and of the same image restored by a plain `criu
// restore -D DIR --shell-job -d --restore-sibling` run the same way (PID 1
// of a fresh PID namespace), plain CRIU with stasis's kerndat cache, and
// plain CRIU with stasis's log verbosity (-v4 -o), plain CRIU through
// scripts/install-criu's former /bin/sh wrapper; stasis without its
// kerndat cache, with the checksums during CRIU and with one checksum a file
// (an earlier version's manifest, no chunk sums); the latency of the first
// request after a restore against a warmed JVM's; the restore's phases; the
// image size with and without GC before the checkpoint; and each phase of
// the checkpoint run. Medians of STASIS_BENCH_ROUNDS rounds (default 7).
// Goals (issue 13): restore to first response <= 50 ms and >= 10x faster
// than cold, >= 1.8x faster than plain CRIU; first request after a restore
// <= 1.5x a warmed JVM's; image >= 40% smaller with the GC.
func BenchmarkRestoreVersusCold(b *testing.B) {
	s := demoService(b)
	warm := []string{"--checkpoint-on=" + s.url("/health"), "--warmup-url=" + s.url("/api/orders"), "--warmup-requests=4000"}

	noGC := imageSize(b, s, append(warm, "--gc-before-checkpoint=false"))
	withGC := imageSize(b, s, warm)
	m := readManifest(b, s.dir)
	kdat := copyKdat(b, s)

	wholeSums := wholeSumsManifest(b, s.dir)
	var wholeCheck []time.Duration
	health := "--checkpoint-on=" + s.url("/health") // the demo's readiness: ready_ms
	var cold, firstWarm, medWarm, medCold []time.Duration
	var firstRestored, medRestored, startup, check, criu, ready []time.Duration
	t := map[string][]time.Duration{}
	variants := []struct {
		name string
		run  func() time.Duration
	}{
		{"restored", func() time.Duration {
			r := timeToFirstResponse(b, s, false, health)
			firstRestored, medRestored = append(firstRestored, r.first[0]), append(medRestored, median(r.first))
			startup = append(startup, msDur(r.phases.StartupMS))
			check, criu = append(check, msDur(r.phases.CheckMS)), append(criu, msDur(r.phases.CRIUMS))
			ready = append(ready, msDur(r.phases.ReadyMS))
			return r.ttfr
		}},
		{"cold", func() time.Duration {
			c := timeToFirstResponse(b, s, true, "--mode=run")
			firstWarm, medWarm, medCold = append(firstWarm, c.warm[0]), append(medWarm, median(c.warm)), append(medCold, median(c.first))
			return c.ttfr
		}},
		{"checksums-during-criu", func() time.Duration {
			return timeToFirstResponse(b, s, false, health, "--restore-checksums=during").ttfr
		}},
		{"whole-file-sums", func() time.Duration {
			// The manifest of an earlier version: one checksum a file.
			defer swapManifest(b, s.dir, wholeSums)()
			r := timeToFirstResponse(b, s, false, health)
			wholeCheck = append(wholeCheck, msDur(r.phases.CheckMS))
			return r.ttfr
		}},
		{"no-kerndat-cache", func() time.Duration {
			hidden := s.dir + "-kdat-hidden"
			os.Rename(filepath.Join(s.dir, ".stasis-kdat"), hidden)
			defer os.Rename(hidden, filepath.Join(s.dir, ".stasis-kdat"))
			return timeToFirstResponse(b, s, false, health).ttfr
		}},
		{"plain-criu", func() time.Duration { return rawRestore(b, s, "", nil) }},
		{"plain-criu-kerndat-cache", func() time.Duration { return rawRestore(b, s, kdat, []string{"--unprivileged"}) }},
		{"plain-criu-v4-log", func() time.Duration { return rawRestore(b, s, "", []string{"-v4", "-o", "restore.log"}) }},
	}
	if w := criuWrapper(b, s.criu); w != "" {
		variants = append(variants, struct {
			name string
			run  func() time.Duration
		}{"plain-criu-through-sh-wrapper", func() time.Duration {
			defer func(c string) { s.criu = c }(s.criu)
			s.criu = w
			return rawRestore(b, s, "", nil)
		}})
	}
	for i := 0; i < benchRounds(); i++ {
		// Each round in another order: no variant always follows another.
		for k := range variants {
			v := variants[(i+k)%len(variants)]
			t[v.name] = append(t[v.name], v.run())
		}
	}
	cold, restored, raw := t["cold"], t["restored"], t["plain-criu"]
	for _, v := range variants[2:] {
		b.ReportMetric(ms(median(t[v.name])), v.name+"-ms")
	}
	b.ReportMetric(float64(median(raw))/float64(median(restored)), "plain-criu/restored-x")
	b.ReportMetric(ms(median(cold)), "cold-ms")
	b.ReportMetric(ms(median(restored)), "restored-ms")
	b.ReportMetric(float64(median(cold))/float64(median(restored)), "speedup-x")
	b.ReportMetric(ms(median(startup)), "phase-startup-ms")
	b.ReportMetric(ms(median(check)), "phase-check-ms")
	b.ReportMetric(ms(median(criu)), "phase-criu-ms")
	b.ReportMetric(ms(median(ready)), "phase-ready-ms")
	b.ReportMetric(ms(median(wholeCheck)), "whole-file-sums-phase-check-ms")
	b.ReportMetric(ms(median(firstRestored)), "req1-restored-ms")
	b.ReportMetric(ms(median(firstWarm)), "req1-warmed-ms")
	b.ReportMetric(float64(median(firstRestored))/float64(median(firstWarm)), "req1-ratio")
	b.ReportMetric(ms(median(medRestored)), "req1-10-median-restored-ms")
	b.ReportMetric(ms(median(medWarm)), "req1-10-median-warmed-ms")
	b.ReportMetric(float64(median(medRestored))/float64(median(medWarm)), "req1-10-median-ratio")
	b.ReportMetric(ms(median(medCold)), "req1-10-median-cold-ms")
	b.ReportMetric(float64(noGC)/1e6, "image-noGC-MB")
	b.ReportMetric(float64(withGC)/1e6, "image-GC-MB")
	b.ReportMetric(100*(1-float64(withGC)/float64(noGC)), "GC-saves-%")
	b.ReportMetric(float64(m.Phases.LaunchToReadyMS), "ready-ms")
	b.ReportMetric(float64(m.Phases.WarmupMS), "warmup-ms")
	b.ReportMetric(float64(m.Phases.DumpMS), "dump-ms")
	b.ReportMetric(loadAverage(), "loadavg-1min")
}

// benchRounds is STASIS_BENCH_ROUNDS, at least 7 (the minimum).
func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("STASIS_BENCH_ROUNDS")); err == nil && n >= 7 {
		return n
	}
	return 7
}

func msDur(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// loadAverage is the 1-minute load average at the end of the run: the
// machine may be shared, and the figures mean more beside it.
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// criuWrapper is, where criu is scripts/install-criu's patched binary, the
// /bin/sh wrapper that script wrote before (the same binary run through
// the prefix's loader with --library-path), to time what it cost; "" for
// any other criu.
func criuWrapper(b *testing.B, criu string) string {
	prefix := filepath.Dir(criu)
	loaders, _ := filepath.Glob(filepath.Join(prefix, "usr/lib/*/ld-linux*.so.*"))
	real := filepath.Join(prefix, "usr/sbin/criu")
	if len(loaders) == 0 {
		return ""
	}
	if _, err := os.Stat(real); err != nil {
		return ""
	}
	w := filepath.Join(b.TempDir(), "criu")
	script := fmt.Sprintf("#!/bin/sh\nexec %q --library-path %q %q \"$@\"\n", loaders[0], filepath.Dir(loaders[0]), real)
	if err := os.WriteFile(w, []byte(script), 0o755); err != nil {
		b.Fatal(err)
	}
	return w
}

// wholeSumsManifest is the image's manifest without its chunk sums, as an
// earlier version wrote it (one CRC-32C a file).
func wholeSumsManifest(b *testing.B, dir string) []byte {
	data, err := os.ReadFile(filepath.Join(dir, "stasis.json"))
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		b.Fatal(err)
	}
	for _, f := range m["files"].([]any) {
		delete(f.(map[string]any), "crc32c_chunks")
	}
	if data, err = json.Marshal(m); err != nil {
		b.Fatal(err)
	}
	return data
}

// swapManifest puts manifest in dir's place and returns what puts the
// original back.
func swapManifest(b *testing.B, dir string, manifest []byte) func() {
	path := filepath.Join(dir, "stasis.json")
	orig, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, manifest, 0o644); err != nil {
		b.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// copyKdat copies the kerndat cache the checkpoint run left in the state
// directory, for plain CRIU's XDG_RUNTIME_DIR.
func copyKdat(b *testing.B, s *service) string {
	caches, _ := filepath.Glob(filepath.Join(s.dir, ".stasis-kdat", "*", "criu.kdat"))
	if len(caches) == 0 {
		b.Fatal("the checkpoint run made no kerndat cache")
	}
	data, err := os.ReadFile(caches[0])
	if err != nil {
		b.Fatalf("the checkpoint run made no kerndat cache: %v", err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "criu.kdat"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}

// rawRestore restores the image with plain `criu restore -D DIR --shell-job
// -d --restore-sibling` (plus extra) as PID 1 of a fresh PID namespace, as
// stasis runs, and returns the time to the first answer. xdg, when set, is
// criu's XDG_RUNTIME_DIR (where --unprivileged finds its kerndat cache).
func rawRestore(b *testing.B, s *service, xdg string, extra []string) time.Duration {
	work := b.TempDir()
	argv := append([]string{s.criu, "restore", "-D", s.dir, "-W", work, "--shell-job", "-d", "--restore-sibling"}, extra...)
	script := strings.Join(quoteAll(argv), " ") + " || exit 1; exec sleep 600"
	env := []string{"XDG_RUNTIME_DIR="}
	if xdg != "" {
		env = []string{"XDG_RUNTIME_DIR=" + xdg}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	r := startPID1Cmd(b, env, "setsid", "sh", "-c", script)
	for {
		if resp, err := client.Get(s.url("/api/count")); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("plain criu restore %v: no answer\n%s", extra, r.stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	syscall.Kill(r.hostPID, syscall.SIGKILL)
	r.wait(b, time.Minute)
	return took
}

func quoteAll(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// imageSize runs a checkpoint and returns the image's size from its manifest.
func imageSize(b *testing.B, s *service, flags []string) int64 {
	os.RemoveAll(s.dir)
	r := s.start(b, flags...)
	if code := r.wait(b, 3*time.Minute); code != 0 {
		b.Fatalf("checkpoint run exit %d\n%s", code, r.stderr.String())
	}
	return readManifest(b, s.dir).ImageBytes
}

type runTimes struct {
	ttfr   time.Duration   // start of stasis to the first 200
	first  []time.Duration // the first 10 requests of /api/orders, one by one, once the start is over
	warm   []time.Duration // 10 requests after 4000 more (the same warm-up as the checkpoint's)
	phases supervisor.RestorePhases
}

// timeToFirstResponse starts stasis (a restore, or with --mode=run a cold
// start), times its first answer and the next requests, reads a restore's
// phases from `stasis status --json`, and stops it.
func timeToFirstResponse(b *testing.B, s *service, warmToo bool, flags ...string) runTimes {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	r := s.start(b, flags...)
	var rt runTimes
	for {
		if resp, err := client.Get(s.url("/api/count")); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("no answer\n%s", r.stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	rt.ttfr = time.Since(start)
	// The first requests come after the restore: once stasis says how the
	// service started (a restored JVM answers a moment before CRIU exits)
	// and, for a restore, that its readiness probe was answered.
	for {
		st := statusJSON(b, s.state)
		if st.Start != "" && (st.Restore == nil || st.Restore.ReadyMS > 0) {
			if st.Restore != nil {
				rt.phases = *st.Restore
			}
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("stasis never said the restore ended: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rt.first = tenRequests(b, client, s.url("/api/orders"))
	if warmToo {
		for i := 0; i < 4000; i++ {
			request(client, s.url("/api/orders"))
		}
		// As after a restore, the requests come after a pause, not straight
		// out of a busy loop with every cache hot.
		time.Sleep(time.Second)
		rt.warm = tenRequests(b, client, s.url("/api/orders"))
	}
	syscall.Kill(r.hostPID, syscall.SIGTERM)
	r.wait(b, time.Minute)
	return rt
}

func tenRequests(b *testing.B, c *http.Client, url string) []time.Duration {
	var ds []time.Duration
	for i := 0; i < 10; i++ {
		start := time.Now()
		if err := request(c, url); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	return ds
}

func request(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

type benchManifest struct {
	ImageBytes int64 `json:"image_bytes"`
	Phases     struct {
		LaunchToReadyMS int64 `json:"launch_to_ready_ms"`
		WarmupMS        int64 `json:"warmup_ms"`
		DumpMS          int64 `json:"dump_ms"`
	} `json:"phases"`
}

func readManifest(b testing.TB, dir string) benchManifest {
	var m benchManifest
	data, err := os.ReadFile(filepath.Join(dir, "stasis.json"))
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		b.Fatal(err)
	}
	return m
}
