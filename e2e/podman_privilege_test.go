package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The podman test runs the flow of the Docker one (checkpoint container, commit, restore
// container, healthcheck, logs, stop) with only the capabilities measured as the criu engine's
// least privilege: podman's defaults plus CHECKPOINT_RESTORE, which podman knows and Docker
// 20.10 does not; SYS_PTRACE only where Yama asks for it; seccomp unconfined for the
// checkpoint only.

// lpCaps are the capabilities both containers add to podman's defaults.
func lpCaps() []string {
	caps := []string{"--cap-add=CHECKPOINT_RESTORE"}
	b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 1 {
		// CRIU is not the JVM's ancestor: Yama's scope 1 and 2 want SYS_PTRACE.
		caps = append(caps, "--cap-add=SYS_PTRACE")
	}
	return caps
}

type lpFixture struct {
	prepared
	dir     string
	runtime []string // --runtime runc where podman's default runtime runs no container
	image   string
}

var lpShared lpFixture

func lpSetup(t testing.TB) *lpFixture {
	t.Helper()
	lpShared.ready(t, lpShared.prepare)
	return &lpShared
}

func (f *lpFixture) prepare() {
	if f.skip = podmanSkip(); f.skip == "" {
		f.err = f.build()
	}
}

func (f *lpFixture) build() error {
	var err error
	if f.dir, err = os.MkdirTemp("", prefix+"-lp"); err != nil {
		return fmt.Errorf("make scratch directory: %w", err)
	}
	stasis, err := buildStasis(f.dir)
	if err != nil {
		return err
	}
	base, err := podmanBase()
	if err != nil {
		return err
	}
	if f.runtime, err = podmanRuntime(base); err != nil {
		f.skip = err.Error()
		return nil
	}
	ctx, err := buildContext(f.dir, stasis)
	if err != nil {
		return err
	}
	f.image = "localhost/" + prefix + "-lp-criu"
	args := append(append([]string{"build", "-q"}, f.runtime...), podmanLimits...)
	_, err = podman(append(args, "--build-arg", "BASE="+base, "-t", f.image,
		"-f", filepath.Join(ctx, "criu", "Dockerfile"), ctx)...)
	return err
}

// lpRun runs a container named after the test and suffix; t.Cleanup removes it.
func lpRun(t *testing.T, f *lpFixture, suffix string, args ...string) string {
	t.Helper()
	name := fmt.Sprintf("%s-lp-%s", prefix, suffix)
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", name).Run() })
	full := append(append(append([]string{"run", "-d", "--name", name}, f.runtime...), podmanLimits...), args...)
	if _, err := podman(full...); err != nil {
		t.Fatal(err)
	}
	return name
}

func lpWait(t *testing.T, name string, limit time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := exec.CommandContext(ctx, "podman", "wait", name).Output()
	if err != nil {
		t.Fatalf("podman wait %s: %v (after %v); logs:\n%s", name, err, limit, lpLogs(name))
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("podman wait %s: %q", name, out)
	}
	return code
}

func lpLogs(name string) string {
	out, _ := exec.Command("podman", "logs", name).CombinedOutput()
	return tail(string(out), 40)
}

// TestPodmanCheckpointRestoreLeastPrivilege is the flow of examples/criu/README.md in podman,
// with podman's default capabilities plus only what the criu engine was measured to need.
func TestPodmanCheckpointRestoreLeastPrivilege(t *testing.T) {
	f := lpSetup(t)
	// One test uses the fixture: its image and scratch directory go with it.
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", f.image).Run(); os.RemoveAll(f.dir) })
	caps := lpCaps()
	args := append(append([]string{}, caps...), "--security-opt", "seccomp=unconfined",
		"-e", fmt.Sprintf("STASIS_WARMUP_REQUESTS=%d", warmups), f.image)
	ck := lpRun(t, f, "checkpoint", args...)
	if code := lpWait(t, ck, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint container with %v exited %d, want 0; logs:\n%s", caps, code, lpLogs(ck))
	}
	restored := "localhost/" + prefix + "-lp-restored"
	if _, err := podman("commit", "-q", ck, restored); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", restored).Run() })

	port := freePort(t)
	start := time.Now()
	rs := lpRun(t, f, "restore", append(append([]string{}, caps...), "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), restored)...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitAnswer(base+"/health", 60*time.Second); err != nil {
		t.Fatalf("restore container: %v; logs:\n%s", err, lpLogs(rs))
	}
	t.Logf("restore container with %v: podman run to first answer in %v", caps, time.Since(start).Round(time.Millisecond))
	if got, err := get(base + "/count"); err != nil || got != strconv.Itoa(warmups+1) {
		t.Fatalf("restored GET /count = %q, %v; want %d; logs:\n%s", got, err, warmups+1, lpLogs(rs))
	}
	if out, err := podman("exec", rs, "/stasis", "healthcheck"); err != nil {
		t.Errorf("stasis healthcheck in the restored container: %v\n%s", err, out)
	}
	logs := lpLogs(rs)
	for _, want := range []string{"restored pid=", fmt.Sprintf("request GET /count -> %d", warmups+1)} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs of the restore lack %q; they end:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "Started in ") {
		t.Errorf("the JVM started cold instead of being restored; logs:\n%s", logs)
	}
	// The doctor in the restore container agrees: ready with these flags.
	if out, err := podman("exec", rs, "/stasis", "doctor"); err != nil || !strings.Contains(out, "ready: everything") {
		t.Errorf("stasis doctor in the restored container: %v\n%s", err, out)
	}
	if _, err := podman("stop", "-t", "20", rs); err != nil {
		t.Fatal(err)
	}
	if code, _ := podman("inspect", "--format", "{{.State.ExitCode}}", rs); strings.TrimSpace(code) != "143" {
		t.Errorf("exit code after podman stop = %s, want the JVM's 143; logs:\n%s", strings.TrimSpace(code), lpLogs(rs))
	}

	t.Run("the doctor and the preflight without CHECKPOINT_RESTORE speak podman", func(t *testing.T) {
		out, err := podman(append(append(append([]string{"run", "--rm"}, f.runtime...), podmanLimits...),
			"--entrypoint", "/stasis", restored, "doctor")...)
		if err == nil || !strings.Contains(out, "podman run --cap-add=CHECKPOINT_RESTORE") || strings.Contains(out, "docker run") {
			t.Errorf("doctor without CHECKPOINT_RESTORE: %v, want not ready with a podman fix:\n%s", err, out)
		}
		name := lpRun(t, f, "nocap", "-e", "STASIS_ON_RESTORE_FAILURE=fail", restored)
		if code := lpWait(t, name, time.Minute); code != 4 {
			t.Fatalf("restore without CHECKPOINT_RESTORE exited %d, want 4; logs:\n%s", code, lpLogs(name))
		}
		if logs := lpLogs(name); !strings.Contains(logs, "not tried") || !strings.Contains(logs, "podman run --cap-add=CHECKPOINT_RESTORE") {
			t.Errorf("the restore's preflight does not name the capability in podman's words:\n%s", logs)
		}
	})
}
