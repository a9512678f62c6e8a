package main

import (
	"os"
	"os/exec"
	"sort"
	"syscall"
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
	const rounds = 200
	var sw, tw []time.Duration
	var srss, trss int64
	for i := 0; i < rounds; i++ {
		d, rss := timeRun(b, stasisBin, "--log-level=warn", "--", "/bin/true")
		sw, srss = append(sw, d), max(srss, rss)
		d, rss = timeRun(b, tini, "-s", "--", "/bin/true")
		tw, trss = append(tw, d), max(trss, rss)
	}
	sm, tm := median(sw), median(tw)
	b.ReportMetric(float64(sm.Microseconds())/1000, "stasis-ms")
	b.ReportMetric(float64(tm.Microseconds())/1000, "tini-ms")
	b.ReportMetric(float64(sm)/float64(tm), "wall-ratio")
	b.ReportMetric(float64(srss)/1024, "stasis-peak-rss-MB")
	b.ReportMetric(float64(trss)/1024, "tini-peak-rss-MB")
	if fi, err := os.Stat(stasisBin); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	}
}

// timeRun returns the wall time of one whole process and its peak RSS in KiB.
// The RSS comes from a second run through `sh -c 'exec ...'`: a child's
// ru_maxrss includes what it had before exec, and a child forked from this
// Go test binary starts out as large as the test binary.
func timeRun(b *testing.B, name string, args ...string) (time.Duration, int64) {
	cmd := exec.Command(name, args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	d := time.Since(start)
	viaSh := exec.Command("/bin/sh", append([]string{"-c", `exec "$0" "$@"`, name}, args...)...)
	if err := viaSh.Run(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return d, viaSh.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
