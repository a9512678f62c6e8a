package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFirstRequestFaults measures what the first request after a
// restore pays that a warmed JVM's does not (issue 13): the restored JVM's
// page faults (/proc/PID/stat minflt, majflt) during its first /api/orders,
// and which mappings they fill (growth of each mapping's Rss in
// /proc/PID/smaps: the JVM's own library, the CDS archive, other files,
// anonymous memory), against the same JVM's after 4000 more requests and a
// 1 s pause; and, alternating with it, the same with the JVM's libjvm.so
// mappings read through /proc/PID/mem before the first request (which maps
// their pages into the JVM: the only way to touch them from outside).
func BenchmarkFirstRequestFaults(b *testing.B) {
	s := demoService(b)
	imageSize(b, s, []string{"--checkpoint-on=" + s.url("/health"), "--warmup-url=" + s.url("/api/orders"), "--warmup-requests=4000"})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	type sample struct {
		req          time.Duration
		minflt, maj  int64
		grown        map[string]int64 // kB of Rss gained, by kind of mapping
		touch        time.Duration
		touchedBytes int64
	}
	got := map[string][]sample{}
	measure := func(pid int) sample {
		min0, maj0 := faults(b, pid)
		rss0 := rssByKind(b, pid)
		start := time.Now()
		if err := request(client, s.url("/api/orders")); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		min1, maj1 := faults(b, pid)
		rss1 := rssByKind(b, pid)
		grown := map[string]int64{}
		for k, v := range rss1 {
			grown[k] = v - rss0[k]
		}
		return sample{req: took, minflt: min1 - min0, maj: maj1 - maj0, grown: grown}
	}
	for i := 0; i < benchRounds(); i++ {
		for k, touch := range []bool{false, true} {
			if i%2 == 1 {
				touch = k == 0
			}
			r := s.start(b, "--checkpoint-on="+s.url("/health"))
			pid := jvmOf(b, r)
			for {
				st := statusJSON(b, s.state)
				if st.Start != "" && st.Restore != nil && st.Restore.ReadyMS > 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			var t time.Duration
			var n int64
			if touch {
				start := time.Now()
				n = touchFileMappings(b, pid)
				t = time.Since(start)
			}
			first := measure(pid)
			first.touch, first.touchedBytes = t, n
			if touch {
				got["touched"] = append(got["touched"], first)
			} else {
				got["restored"] = append(got["restored"], first)
				for j := 0; j < 4000; j++ {
					request(client, s.url("/api/orders"))
				}
				time.Sleep(time.Second)
				got["warmed"] = append(got["warmed"], measure(pid))
			}
			syscall.Kill(r.hostPID, syscall.SIGTERM)
			r.wait(b, time.Minute)
		}
	}
	for _, name := range []string{"restored", "touched", "warmed"} {
		var req, touch []time.Duration
		var minflt, maj []int64
		kinds := map[string][]int64{}
		for _, x := range got[name] {
			req, touch = append(req, x.req), append(touch, x.touch)
			minflt, maj = append(minflt, x.minflt), append(maj, x.maj)
			for _, k := range []string{"libjvm", "cds", "file", "anon"} {
				kinds[k] = append(kinds[k], x.grown[k])
			}
		}
		b.ReportMetric(ms(median(req)), name+"-req1-ms")
		b.ReportMetric(float64(medianInt(minflt)), name+"-minflt")
		b.ReportMetric(float64(medianInt(maj)), name+"-majflt")
		for k, v := range kinds {
			b.ReportMetric(float64(medianInt(v)), name+"-rss-grown-"+k+"-kB")
		}
		if name == "touched" {
			b.ReportMetric(ms(median(touch)), "touch-ms")
			b.ReportMetric(float64(got[name][0].touchedBytes)/1e6, "touched-MB")
		}
	}
	b.ReportMetric(float64(median(reqs(got["restored"], func(x sample) time.Duration { return x.req })))/
		float64(median(reqs(got["warmed"], func(x sample) time.Duration { return x.req }))), "req1-ratio")
	b.ReportMetric(loadAverage(), "loadavg-1min")
}

func reqs[T any](xs []T, f func(T) time.Duration) []time.Duration {
	var out []time.Duration
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func medianInt(xs []int64) int64 {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x)
	}
	return int64(median(ds))
}

// faults is the process's minor and major page faults, all threads.
func faults(b *testing.B, pid int) (minflt, majflt int64) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+2:]))
	minflt, _ = strconv.ParseInt(f[7], 10, 64)
	majflt, _ = strconv.ParseInt(f[9], 10, 64)
	return minflt, majflt
}

// rssByKind sums /proc/PID/smaps's Rss by kind of mapping: libjvm (the
// JVM's own library), cds (the class data sharing archive), file (every
// other file) and anon.
func rssByKind(b *testing.B, pid int) map[string]int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	kind := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		fs := strings.Fields(l)
		if len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			kind = mappingKind(fs)
			continue
		}
		if len(fs) >= 2 && fs[0] == "Rss:" {
			n, _ := strconv.ParseInt(fs[1], 10, 64)
			out[kind] += n
		}
	}
	return out
}

func mappingKind(header []string) string {
	if len(header) < 6 || !strings.HasPrefix(header[5], "/") {
		return "anon"
	}
	switch p := header[5]; {
	case strings.HasSuffix(p, "/libjvm.so"):
		return "libjvm"
	case strings.HasSuffix(p, ".jsa"):
		return "cds"
	default:
		return "file"
	}
}

// touchFileMappings reads the readable mappings of pid's libjvm.so (where
// the first request's file-backed faults land) through /proc/PID/mem,
// which faults their pages into pid's page tables, and returns the bytes
// read.
func touchFileMappings(b *testing.B, pid int) int64 {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		b.Fatal(err)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	buf := make([]byte, 1<<20)
	var total int64
	for _, l := range strings.Split(string(maps), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 6 || !strings.HasSuffix(fs[5], "/libjvm.so") || fs[1][0] != 'r' {
			continue
		}
		lo, hi, _ := strings.Cut(fs[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		for off := start; off < end; off += uint64(len(buf)) {
			n := min(uint64(len(buf)), end-off)
			if k, err := mem.ReadAt(buf[:n], int64(off)); err == nil {
				total += int64(k)
			}
		}
	}
	return total
}
