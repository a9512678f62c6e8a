package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDockerFirstAnswer compares, in the same run and in rotating order, the time from
// `docker run -d` to the first answer of the example service in containers of one image: the
// container floor (`docker run --entrypoint /bin/true`, to its exit), a cold start
// (STASIS_MODE=run), a restore from a committed checkpoint (the image layer, fuse-overlayfs here)
// (also with the checkpoint container's privileges, seccomp=unconfined, and with an earlier
// version's manifest, one checksum a file) and a restore from a
// Docker volume holding the same checkpoint. Medians of
// STASIS_BENCH_ROUNDS rounds (at least 7). Goal (issue 13): both restores at most 60 ms above
// the floor.
func BenchmarkDockerFirstAnswer(b *testing.B) {
	f := setup(b)
	if why := engineMissing(f.stasis); why != "" {
		b.Skip(why)
	}
	layer := benchImage(b, f)
	whole := wholeSumsImage(b, layer)
	volume := benchVolume(b, f)
	variants := []struct {
		name string
		run  func(i int) time.Duration
	}{
		{"floor", func(i int) time.Duration {
			return floorRun(b, fmt.Sprintf("floor-%d", i), append(privileges(f), "--entrypoint", "/bin/true", f.image)...)
		}},
		{"cold", func(i int) time.Duration {
			return firstAnswer(b, fmt.Sprintf("cold-%d", i), "-e", "STASIS_MODE=run", f.image)
		}},
		{"layer", func(i int) time.Duration {
			return firstAnswer(b, fmt.Sprintf("layer-%d", i), append(privileges(f), layer)...)
		}},
		{"layer-whole-sums", func(i int) time.Duration {
			// The same layer with an earlier version's manifest: one checksum a file.
			return firstAnswer(b, fmt.Sprintf("layer-whole-sums-%d", i), append(privileges(f), whole)...)
		}},
		{"layer-unconfined", func(i int) time.Duration {
			// The checkpoint container's privileges (no seccomp filter), where the
			// kerndat cache was made.
			return firstAnswer(b, fmt.Sprintf("layer-unconfined-%d", i), append(checkpointPrivileges(f), layer)...)
		}},
		{"volume", func(i int) time.Duration {
			return firstAnswer(b, fmt.Sprintf("volume-%d", i), append(privileges(f), "-v", volume+":/checkpoint", f.image)...)
		}},
	}
	t := map[string][]time.Duration{}
	kdatUsed, checkMS = map[string]int{}, map[string][]time.Duration{}
	for i := 0; i < benchRounds(); i++ {
		for k := range variants {
			v := variants[(i+k)%len(variants)]
			t[v.name] = append(t[v.name], v.run(i))
		}
	}
	floor := median(t["floor"])
	for _, v := range variants {
		b.ReportMetric(ms(median(t[v.name])), v.name+"-ms")
	}
	b.ReportMetric(ms(median(t["layer"])-floor), "layer-above-floor-ms")
	b.ReportMetric(ms(median(t["volume"])-floor), "volume-above-floor-ms")
	b.ReportMetric(float64(median(t["cold"]))/float64(median(t["layer"])), "cold/layer-x")
	// How many restores CRIU ran with the checkpoint's kerndat cache: under
	// the default seccomp profile too, where the probes it changes answer
	// alike (supervisor/engine/kdat_probe_linux.go).
	for _, v := range []string{"layer", "layer-unconfined", "volume"} {
		b.ReportMetric(float64(kdatUsed[v]), v+"-kerndat-cache-n")
	}
	// The image check (check_ms in the restore's log), with chunk sums and
	// with one sum a file, through fuse-overlayfs.
	for _, v := range []string{"layer", "layer-whole-sums", "volume"} {
		b.ReportMetric(ms(median(checkMS[v])), v+"-check-ms")
	}
	b.ReportMetric(loadAverage(), "loadavg-1min")
}

// benchVolume makes a Docker volume holding a checkpoint of the example image, once per
// process; TestMain removes it.
func benchVolume(b *testing.B, f *fixture) string {
	b.Helper()
	if f.benchVolume == "" {
		name := prefix + "-bench-vol"
		c := run(b, "bench-checkpoint-vol", append(checkpointPrivileges(f), "-v", name+":/checkpoint", f.image)...)
		if code := c.wait(3 * time.Minute); code != 0 {
			b.Fatalf("checkpoint container (volume) exited %d, want 0; logs:\n%s", code, tail(c.logs(), 60))
		}
		f.benchVolume = name
	}
	return f.benchVolume
}

// floorRun times `docker run` of a container that exits at once, to its exit.
func floorRun(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	full := append([]string{"run", "--name", prefix + "-" + name}, args...)
	start := time.Now()
	if _, err := docker(full...); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	docker("rm", "-f", prefix+"-"+name)
	return took
}

func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("STASIS_BENCH_ROUNDS")); err == nil && n >= 7 {
		return n
	}
	return 7
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadAverage is the 1-minute load average at the end of the run.
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// benchImage makes the committed checkpoint image once per process: the testing package calls a
// benchmark more than once (b.N = 1 first), and a checkpoint run takes seconds. TestMain
// removes it.
func benchImage(b *testing.B, f *fixture) string {
	b.Helper()
	if f.benchImage == "" {
		c := run(b, "bench-checkpoint", append(checkpointPrivileges(f), f.image)...)
		if code := c.wait(3 * time.Minute); code != 0 {
			b.Fatalf("checkpoint container exited %d, want 0; logs:\n%s", code, tail(c.logs(), 60))
		}
		if _, err := docker("commit", c.name, prefix+"-bench"); err != nil {
			b.Fatal(err)
		}
		f.benchImage = prefix + "-bench"
	}
	return f.benchImage
}

// kdatUsed counts, by variant, the restores whose log says CRIU used the
// kerndat cache, and checkMS holds their image checks' durations
// (BenchmarkDockerFirstAnswer).
var (
	kdatUsed map[string]int
	checkMS  map[string][]time.Duration
	checkRE  = regexp.MustCompile(`\bcheck_ms=(\d+)`)
)

// wholeSumsImage is layer with its manifest as an earlier version wrote it
// (one checksum a file, no chunk sums): docker create, cp, commit.
func wholeSumsImage(b *testing.B, layer string) string {
	b.Helper()
	id, err := docker("create", layer)
	if err != nil {
		b.Fatal(err)
	}
	defer docker("rm", "-f", id)
	tmp := filepath.Join(b.TempDir(), "stasis.json")
	if _, err := docker("cp", id+":/checkpoint/stasis.json", tmp); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(tmp)
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
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := docker("cp", tmp, id+":/checkpoint/stasis.json"); err != nil {
		b.Fatal(err)
	}
	name := layer + "-whole-sums"
	if _, err := docker("commit", id, name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { docker("rmi", "-f", name) })
	return name
}

// firstAnswer starts a container publishing the service on 127.0.0.1 and returns how long it took
// from docker run to the first 200 from /health; the container is removed afterwards.
func firstAnswer(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	port := freePort(b)
	full := append([]string{"-p", fmt.Sprintf("127.0.0.1:%d:8080", port)}, args...)
	start := time.Now()
	c := run(b, name, full...)
	if err := waitAnswer(fmt.Sprintf("http://127.0.0.1:%d/health", port), 60*time.Second); err != nil {
		b.Fatalf("%s: %v; logs:\n%s", name, err, tail(c.logs(), 30))
	}
	took := time.Since(start)
	if kdatUsed != nil {
		logs, variant := c.logs(), strings.TrimRight(name, "-0123456789")
		if strings.Contains(logs, "kerndat=cache") {
			kdatUsed[variant]++
		}
		if m := checkRE.FindStringSubmatch(logs); m != nil {
			n, _ := strconv.Atoi(m[1])
			checkMS[variant] = append(checkMS[variant], time.Duration(n)*time.Millisecond)
		}
	}
	if _, err := docker("rm", "-f", c.name); err != nil {
		b.Fatal(err)
	}
	return took
}
