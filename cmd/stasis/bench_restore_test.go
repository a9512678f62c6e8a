package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
// from starting stasis to the first successful response of a cold start and
// of a restore; the latency of the first requests after a restore against a
// warmed JVM; the image size with and without GC before the checkpoint; and
// each phase of the checkpoint run. Goals: restore at least 4x faster; first
// requests after a restore within 2x of a warmed JVM; image at least 40%
// smaller with the GC.
func BenchmarkRestoreVersusCold(b *testing.B) {
	s := demoService(b)
	warm := []string{"--checkpoint-on=" + s.url("/health"), "--warmup-url=" + s.url("/api/orders"), "--warmup-requests=4000"}

	noGC := imageSize(b, s, append(warm, "--gc-before-checkpoint=false"))
	withGC := imageSize(b, s, warm)
	m := readManifest(b, s.dir)

	const rounds = 5
	var cold, restored, firstWarm, firstRestored, medWarm, medRestored, medCold []time.Duration
	for i := 0; i < rounds; i++ {
		c, r := timeToFirstResponse(b, s, "--mode=run"), timeToFirstResponse(b, s)
		cold, restored = append(cold, c.ttfr), append(restored, r.ttfr)
		firstWarm, firstRestored = append(firstWarm, c.warm[0]), append(firstRestored, r.first[0])
		medWarm, medRestored = append(medWarm, median(c.warm)), append(medRestored, median(r.first))
		medCold = append(medCold, median(c.first))
	}
	b.ReportMetric(ms(median(cold)), "cold-ms")
	b.ReportMetric(ms(median(restored)), "restored-ms")
	b.ReportMetric(float64(median(cold))/float64(median(restored)), "speedup-x")
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
	ttfr  time.Duration   // start of stasis to the first 200
	first []time.Duration // the first 10 requests of /api/orders, one by one, right away
	warm  []time.Duration // 10 requests after 4000 more (the same warm-up as the checkpoint's)
}

// timeToFirstResponse starts stasis (a restore, or with --mode=run a cold
// start), times its first answer and the next requests, and stops it.
func timeToFirstResponse(b *testing.B, s *service, flags ...string) runTimes {
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
	rt.first = tenRequests(b, client, s.url("/api/orders"))
	for i := 0; i < 4000; i++ {
		request(client, s.url("/api/orders"))
	}
	// As after a restore, the requests come after a pause, not straight out
	// of a busy loop with every cache hot.
	time.Sleep(time.Second)
	rt.warm = tenRequests(b, client, s.url("/api/orders"))
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
