package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkInitVersusTini runs `stasis -- true` and Debian's `tini -s -- true`
// alternately (both as subreapers, neither as PID 1, so both do the same
// work), and reports the median wall time and peak RSS of each, the ratios,
// and the size of the stripped static binary. Goals: wall time at most 1.5x
// tini's, peak RSS at most 10 MB, binary at most 4 MB.
func BenchmarkInitVersusTini(b *testing.B) {
	tini, err := exec.LookPath("tini")
	if err != nil {
		b.Skip("tini not installed (make deps installs it): no peer to compare with")
	}
	empty := emptyGoProgram(b)
	const rounds = 200
	var sw, tw, gw []time.Duration
	for i := 0; i < rounds; i++ {
		sw = append(sw, timeRun(b, stasisBin, "--log-level=warn", "--", "/bin/true"))
		tw = append(tw, timeRun(b, tini, "-s", "--", "/bin/true"))
		gw = append(gw, timeRun(b, empty))
	}
	b.ReportMetric(float64(median(gw).Microseconds())/1000, "empty-go-program-ms")
	srss, trss := peakRSS(b, stasisBin, "--log-level=warn"), peakRSS(b, tini, "-s")
	sm, tm := median(sw), median(tw)
	b.ReportMetric(float64(sm.Microseconds())/1000, "stasis-ms")
	b.ReportMetric(float64(tm.Microseconds())/1000, "tini-ms")
	b.ReportMetric(float64(sm)/float64(tm), "wall-ratio")
	b.ReportMetric(srss, "stasis-peak-rss-MB")
	b.ReportMetric(trss, "tini-peak-rss-MB")
	if fi, err := os.Stat(stasisBin); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	}
}

// emptyGoProgram builds `func main() {}` the way stasis is built: the floor
// of any Go init's start-up, measured beside tini in the same run.
func emptyGoProgram(b *testing.B) string {
	dir := b.TempDir()
	os.WriteFile(dir+"/main.go", []byte("package main\n\nfunc main() {}\n"), 0o644)
	os.WriteFile(dir+"/go.mod", []byte("module empty\n\ngo 1.26\n"), 0o644)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", dir+"/empty", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the empty program: %v\n%s", err, out)
	}
	return dir + "/empty"
}

// timeRun returns the wall time of one whole process.
func timeRun(b *testing.B, name string, args ...string) time.Duration {
	cmd := exec.Command(name, args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return time.Since(start)
}

// peakRSS runs the init over a short sleep and samples its VmHWM (peak
// resident set) from /proc until it exits, in MB. ru_maxrss would not do:
// a child's maxrss includes what it had before exec, and a child of this Go
// test binary starts out as large as the test binary.
func peakRSS(b *testing.B, name string, args ...string) float64 {
	cmd := exec.Command(name, append(args, "--", "/bin/sleep", "0.2")...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var peak int64
	for {
		if kb := vmHWM(cmd.Process.Pid); kb > peak {
			peak = kb
		}
		select {
		case <-done:
			return float64(peak) / 1024
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
