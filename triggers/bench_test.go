package triggers

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTriggerLatency measures the delay from an HTTP target turning
// ready (recorded by the server as it flips to 200) to Wait returning. The
// budget is one probe interval plus 5 ms; ratio-to-budget must stay <= 1.
func BenchmarkTriggerLatency(b *testing.B) {
	const interval = 50 * time.Millisecond
	s := newFlipServer(b)
	spec := mustSpec(b, s.URL+"/health")
	var sum, worst time.Duration
	for i := 0; i < b.N; i++ {
		s.ready.Store(false)
		done := make(chan time.Time, 1)
		go func() {
			if err := NewWaiter(spec).Wait(context.Background(), Env{Interval: interval}); err != nil {
				b.Error(err)
			}
			done <- time.Now()
		}()
		// Flip at varying points of the probe cycle, after a few 503s.
		time.Sleep(100*time.Millisecond + time.Duration(i*7%50)*time.Millisecond)
		s.flip()
		lat := (<-done).Sub(time.Unix(0, s.readyAt.Load()))
		sum += lat
		worst = max(worst, lat)
	}
	mean := sum / time.Duration(b.N)
	budget := interval + 5*time.Millisecond
	b.ReportMetric(float64(mean)/1e6, "ms/trigger")
	b.ReportMetric(float64(worst)/1e6, "max-ms")
	b.ReportMetric(float64(worst)/float64(budget), "worst/budget")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWarmupVsWrk compares warm-up throughput with wrk's, at the same
// concurrency against the same local Go server (its own process, as the JVM
// would be) in the same run. The goal is
// ratio >= 0.8. The two alternate in short rounds and each keeps its best
// round, so that load from other processes on a small machine hits both
// alike instead of deciding the ratio.
func BenchmarkWarmupVsWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (Debian package wrk): no peer to compare warm-up throughput with")
	}
	const conc, dur, rounds = 4, time.Second, 3
	url := "http://" + startHelperServer(b) + "/api"
	var ours, theirs float64
	for i := 0; i < b.N*rounds; i++ {
		res, err := Warmup(context.Background(), WarmupConfig{URLs: []string{url}, Duration: dur, Concurrency: conc}, nil, nil)
		if err != nil || res.Errors+res.Non2xx > 0 {
			b.Fatalf("warm-up: %+v, %v", res, err)
		}
		ours = max(ours, float64(res.Requests)/res.Elapsed.Seconds())
		r, err := runWrk(wrk, url, conc, dur)
		if err != nil {
			b.Fatal(err)
		}
		theirs = max(theirs, r)
	}
	b.ReportMetric(ours, "warmup-req/s")
	b.ReportMetric(theirs, "wrk-req/s")
	b.ReportMetric(ours/theirs, "ratio")
	b.ReportMetric(0, "ns/op")
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func runWrk(wrk, url string, conc int, dur time.Duration) (float64, error) {
	threads := min(conc, 2)
	out, err := exec.Command(wrk, "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conc),
		"-d"+strconv.Itoa(int(dur.Seconds()))+"s", url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("run wrk: %w: %s", err, out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk's output: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// startHelperServer runs the test binary as an HTTP server process and
// returns its address.
func startHelperServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=http-server")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("read the helper server's address: %v", err)
	}
	return strings.TrimSpace(addr)
}
