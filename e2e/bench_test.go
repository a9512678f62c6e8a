package e2e

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDockerFirstAnswer compares, in the same run, the time from `docker run -d` to the
// first answer of the demo service in two containers of the same image: one that starts the JVM
// cold (STASIS_MODE=run) and one restored from a committed checkpoint. It reports both and their
// ratio (cold/restore: how many times faster the restored container answers).
func BenchmarkDockerFirstAnswer(b *testing.B) {
	f := setup(b)
	if why := engineMissing(f.stasis); why != "" {
		b.Skip(why)
	}
	restored := benchImage(b, f)
	var cold, restore time.Duration
	for i := 0; i < b.N; i++ {
		cold += firstAnswer(b, fmt.Sprintf("cold-%d", i), "-e", "STASIS_MODE=run", f.image)
		args := append(privileges(f), restored)
		restore += firstAnswer(b, fmt.Sprintf("restored-%d", i), args...)
	}
	n := float64(b.N)
	b.ReportMetric(float64(cold.Milliseconds())/n, "cold-ms")
	b.ReportMetric(float64(restore.Milliseconds())/n, "restore-ms")
	b.ReportMetric(float64(cold)/float64(restore), "cold/restore")
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
	if _, err := docker("rm", "-f", c.name); err != nil {
		b.Fatal(err)
	}
	return took
}
