package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// warmups is how many GET /count the checkpoint run sends; the restored counter answers one more.
const warmups = 200

// healthFlags make Docker probe often enough for a test; the Dockerfile's 5s suits production.
var healthFlags = []string{"--health-interval=500ms", "--health-timeout=3s", "--health-retries=3"}

// privileges are the only extra rights the criu engine needs, as measured (README.md, "Least
// privilege"): the checkpoint capability (SYS_ADMIN where the engine lacks CHECKPOINT_RESTORE)
// for clone3 with set_tid and map_files, and SYS_PTRACE only where Yama's ptrace_scope asks
// for it (CRIU is the JVM's sibling, not its ancestor). The restore needs what the checkpoint
// had: CRIU gives the JVM back its capabilities ("Unable to restore capabilities" where the
// restore container lacks one). No --privileged, default seccomp profile.
func privileges(f *fixture) []string {
	return append([]string{f.capFlag}, lpCaps()[1:]...)
}

// checkpointPrivileges add seccomp=unconfined to the checkpoint container only. Measured here:
// under Docker's default profile every process of the container has a seccomp filter, and CRIU
// must suspend it in the JVM to inject its parasite (PTRACE_O_SUSPEND_SECCOMP), which the kernel
// refuses to a tracer that is itself under seccomp ("suspending seccomp failed: Operation not
// permitted"). With the container unconfined the JVM has no filter and nothing is suspended.
func checkpointPrivileges(f *fixture) []string {
	return append(privileges(f), "--security-opt", "seccomp=unconfined")
}

// TestDockerRunMode is stasis as a plain init in Docker (STASIS_MODE=run, no capabilities):
// the app answers, `docker stop` reaches the JVM as SIGTERM through stasis, and the container's
// exit code is the JVM's own (143 after SIGTERM).
func TestDockerRunMode(t *testing.T) {
	f := setup(t)
	port := freePort(t)
	c := run(t, "run", "-e", "STASIS_MODE=run", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), f.image)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitAnswer(base+"/health", 60*time.Second); err != nil {
		t.Fatalf("%v; logs:\n%s", err, c.logs())
	}
	for want := 1; want <= 3; want++ {
		got, err := get(base + "/count")
		if err != nil || got != strconv.Itoa(want) {
			t.Fatalf("GET /count = %q, %v; want %d", got, err, want)
		}
	}
	stopAndCheck(t, c)
	mustContain(t, c.logs(), "Started in ", "request GET /count -> 3")
}

// TestDockerCheckpointRestore is the whole flow of examples/criu/README.md: a checkpoint
// container that warms the app up and exits 0, `docker commit`, and a restore container that
// answers with the kept state, turns healthy, logs, and stops with the JVM's status.
func TestDockerCheckpointRestore(t *testing.T) {
	f := setup(t)
	if why := engineMissing(f.stasis); why != "" {
		t.Skip(why)
	}
	restored := checkpointImage(t, f)
	port := freePort(t)
	start := time.Now()
	args := append(privileges(f), healthFlags...)
	args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), restored)
	c := run(t, "restore", args...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitAnswer(base+"/health", 60*time.Second); err != nil {
		t.Fatalf("restore container: %v; logs:\n%s", err, c.logs())
	}
	t.Logf("restore container: docker run to first answer in %v", time.Since(start).Round(time.Millisecond))

	got, err := get(base + "/count")
	if err != nil || got != strconv.Itoa(warmups+1) {
		t.Fatalf("restored GET /count = %q, %v; want %d (the checkpoint's %d warm-up requests plus this one); logs:\n%s",
			got, err, warmups+1, warmups, tail(c.logs(), 40))
	}
	c.waitHealth("healthy", 30*time.Second)

	logs := c.logs()
	mustContain(t, logs, fmt.Sprintf("request GET /count -> %d", warmups+1))
	// A cold start (a failed restore falling back) would print this again.
	if strings.Contains(logs, "Started in ") {
		t.Errorf("the restore container's JVM started cold; logs:\n%s", tail(logs, 40))
	}
	stopAndCheck(t, c)
}

// checkpointImage runs the checkpoint container, checks that it exits 0 after the warm-up, and
// commits it; the committed image is removed when the test ends.
func checkpointImage(t testing.TB, f *fixture) string {
	t.Helper()
	args := append(checkpointPrivileges(f), "-e", fmt.Sprintf("STASIS_WARMUP_REQUESTS=%d", warmups), f.image)
	start := time.Now()
	c := run(t, "checkpoint", args...)
	if code := c.wait(3 * time.Minute); code != 0 {
		t.Fatalf("checkpoint container exited %d, want 0; logs:\n%s", code, tail(c.logs(), 60))
	}
	t.Logf("checkpoint container: docker run to exit 0 in %v", time.Since(start).Round(time.Millisecond))
	mustContain(t, c.logs(), "Started in ", fmt.Sprintf("request GET /count -> %d", warmups))

	image := prefix + "-restored"
	if _, err := docker("commit", c.name, image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker("rmi", "-f", image) })
	return image
}

// stopAndCheck stops the container the way Docker does (SIGTERM to PID 1, stasis) and checks
// that the JVM got it and that the container's exit code is the JVM's.
func stopAndCheck(t testing.TB, c *container) {
	t.Helper()
	if _, err := docker("stop", "--time", "20", c.name); err != nil {
		t.Fatal(err)
	}
	if code := c.inspect("{{.State.ExitCode}}"); code != "143" {
		t.Errorf("exit code after docker stop = %s, want 143 (the JVM's status after SIGTERM); logs:\n%s",
			code, tail(c.logs(), 20))
	}
	mustContain(t, c.logs(), "got SIGTERM")
}

func mustContain(t testing.TB, logs string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(logs, w) {
			t.Errorf("docker logs lack %q; they end:\n%s", w, tail(logs, 30))
		}
	}
}
