package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPodmanFirstAnswer compares, in the same run and in rotating order, the time to the
// first answer of the example service under podman: the container floor (`podman run
// --entrypoint /bin/true`, to its exit), stasis restoring the checkpoint inside the image
// (`podman run -d` of examples/build-step), and podman's own `podman container restore
// --import` of the same service checkpointed by `podman container checkpoint --export` after
// the same warm-up (issue 13's podman peer). Medians of STASIS_BENCH_ROUNDS rounds (>= 7).
func BenchmarkPodmanFirstAnswer(b *testing.B) {
	f := podmanSetup(b)
	path := criuPath(b)
	export, port := podmanExport(b, f, path)
	variants := []struct {
		name string
		run  func(i int) time.Duration
	}{
		{"floor", func(i int) time.Duration {
			args := append(append([]string{"run", "--name", fmt.Sprintf("%s-pfloor-%d", prefix, i)}, f.runtime...), podmanLimits...)
			start := time.Now()
			if out, err := podman(append(args, "--entrypoint", "/bin/true", f.image)...); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			took := time.Since(start)
			podman("rm", "-f", fmt.Sprintf("%s-pfloor-%d", prefix, i))
			return took
		}},
		{"stasis", func(i int) time.Duration {
			p := freePort(b)
			name := fmt.Sprintf("%s-pstasis-%d", prefix, i)
			args := append(append([]string{"run", "-d", "--name", name}, f.runtime...), podmanLimits...)
			args = append(append(args, restoreCaps()...), "-p", fmt.Sprintf("127.0.0.1:%d:8080", p), f.image)
			return podmanFirstAnswer(b, name, p, nil, args...)
		}},
		{"podman-restore", func(i int) time.Duration {
			// Under the exported container's own name (podman refuses --name with
			// --tcp-established), removed after each round.
			return podmanFirstAnswer(b, prefix+"-pexport", port, path, "container", "restore", "--tcp-established", "--import", export)
		}},
	}
	t := map[string][]time.Duration{}
	for i := 0; i < benchRounds(); i++ {
		for k := range variants {
			v := variants[(i+k)%len(variants)]
			t[v.name] = append(t[v.name], v.run(i))
		}
	}
	for _, v := range variants {
		b.ReportMetric(ms(median(t[v.name])), v.name+"-ms")
	}
	floor := median(t["floor"])
	b.ReportMetric(ms(median(t["stasis"])-floor), "stasis-above-floor-ms")
	b.ReportMetric(ms(median(t["podman-restore"])-floor), "podman-restore-above-floor-ms")
	b.ReportMetric(float64(median(t["podman-restore"]))/float64(median(t["stasis"])), "podman-restore/stasis-x")
	b.ReportMetric(loadAverage(), "loadavg-1min")
}

// criuPath is a PATH with a criu >= 4 first: podman's runtime (runc) runs `criu` from PATH,
// and scripts/install-criu keeps its criu in a private prefix.
func criuPath(b *testing.B) []string {
	criu := os.Getenv("STASIS_CRIU")
	if criu == "" {
		criu = "/usr/local/lib/stasis-criu/criu"
	}
	if _, err := os.Stat(criu); err != nil {
		b.Skipf("no criu for podman checkpoint (STASIS_CRIU, scripts/install-criu): %v", err)
	}
	dir := b.TempDir()
	if err := os.Symlink(criu, filepath.Join(dir, "criu")); err != nil {
		b.Fatal(err)
	}
	return []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
}

// podmanExport runs the example service cold under podman (stasis as a plain init), warms it
// as the build's checkpoint step does, and exports a podman checkpoint of the container. The
// restored container listens where this one did: port.
func podmanExport(b *testing.B, f *podmanFixture, env []string) (string, int) {
	port := freePort(b)
	name := prefix + "-pexport"
	args := append(append([]string{"run", "-d", "--name", name}, f.runtime...), podmanLimits...)
	args = append(args, "-e", "STASIS_MODE=run", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), f.image)
	b.Cleanup(func() { exec.Command("podman", "rm", "-f", name).Run() })
	if out, err := podman(args...); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitAnswer(base+"/health", time.Minute); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < buildWarmups; i++ {
		get(base + "/count")
	}
	export := filepath.Join(b.TempDir(), "checkpoint.tar")
	cmd := exec.Command("podman", "container", "checkpoint", "--tcp-established", "--export", export, name)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("podman container checkpoint does not work here: %v\n%s", err, out)
	}
	exec.Command("podman", "rm", "-f", name).Run()
	return export, port
}

// podmanFirstAnswer runs podman with args (env added) and returns the time to the first 200
// from /health on port; the container is removed afterwards.
func podmanFirstAnswer(b *testing.B, name string, port int, env []string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("podman %v: %v\n%s", args, err, out)
	}
	if err := waitAnswer(fmt.Sprintf("http://127.0.0.1:%d/health", port), time.Minute); err != nil {
		out, _ := podman("logs", name)
		b.Fatalf("%s: %v\n%s", name, err, tail(out, 30))
	}
	took := time.Since(start)
	podman("rm", "-f", name)
	return took
}
