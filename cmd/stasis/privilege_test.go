package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run stasis with the capabilities of a container, under capsh:
// Docker's default set plus what the issue measured, nothing else, no
// seccomp. Dropped from the bounding set before stasis is exec'd, the rest
// are gone from its effective set and from everything it starts.

// dockerDefaults are the capabilities Docker and podman give a container
// unless told otherwise (moby/moby oci/caps/defaults.go DefaultCapabilities).
var dockerDefaults = []string{"chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid",
	"setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write"}

// capshKeeping is the capsh command that runs stasis (then exec'd by the
// shell) with only dockerDefaults and extra in its bounding set.
func capshKeeping(t testing.TB, extra ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("capsh"); err != nil {
		t.Skip("needs capsh (libcap2-bin) to drop capabilities")
	}
	out, err := exec.Command("capsh", "--print").Output()
	if err != nil {
		t.Fatalf("capsh --print: %v", err)
	}
	var bounding string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Bounding set ="); ok {
			bounding = v
		}
	}
	keep := append(slices.Clone(dockerDefaults), extra...)
	var drop []string
	for _, c := range strings.Split(bounding, ",") {
		if c != "" && !slices.Contains(keep, strings.TrimPrefix(c, "cap_")) {
			drop = append(drop, c)
		}
	}
	return []string{"capsh", "--drop=" + strings.Join(drop, ","), "--", "-c", `exec "$0" "$@"`, stasisBin}
}

// startWithCaps runs stasis for this service under capshKeeping(extra).
func (s *service) startWithCaps(t testing.TB, extra []string, flags ...string) *stasisRun {
	t.Helper()
	argv := append(capshKeeping(t, extra...), "--image-dir="+s.dir, "--state-dir="+s.state,
		"--checkpoint-on="+s.url("/count"), "--stop-timeout=5s")
	argv = append(append(append(argv, flags...), "--"), s.command...)
	// Fix lines in docker's or podman's words (--cap-add), also where the
	// tests themselves run in a Kubernetes pod.
	return startPID1Cmd(t, []string{"STASIS_CRIU=" + s.criu, "KUBERNETES_SERVICE_HOST="}, argv...)
}

// ptraceNeeded: with Yama's ptrace_scope at 1 or 2, CRIU (stasis's child,
// not the JVM's ancestor) needs SYS_PTRACE to dump; without Yama it does not.
func ptraceNeeded() bool {
	b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && n >= 1
}

// leastCaps is the smallest set the criu engine needs here for both phases.
func leastCaps() []string {
	if ptraceNeeded() {
		return []string{"checkpoint_restore", "sys_ptrace"}
	}
	return []string{"checkpoint_restore"}
}

// The least privilege, measured: the criu engine checkpoints and restores
// with CHECKPOINT_RESTORE (and SYS_PTRACE under Yama) on top of Docker's
// defaults, no SYS_ADMIN. Before, the dump ran in CRIU's privileged mode and
// failed ("Unable create a network namespace").
func TestLeastPrivilegeCheckpointAndRestore(t *testing.T) {
	s := newService(t, 0)
	caps := leastCaps()
	r := s.startWithCaps(t, caps, "--warmup-url="+s.url("/count"), "--warmup-requests=20")
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint with %v: exit %d\nstderr: %s", caps, code, r.stderr.String())
	}
	count := lastNumber(r.stdout.String(), "request")
	b, err := os.ReadFile(filepath.Join(s.dir, "stasis.json"))
	if err != nil || strings.Contains(string(b), `"SYS_ADMIN"`) || !strings.Contains(string(b), `"CHECKPOINT_RESTORE"`) {
		t.Fatalf("the manifest should list the JVM's capabilities, CHECKPOINT_RESTORE and no SYS_ADMIN (%v):\n%s", err, b)
	}
	r = s.startWithCaps(t, caps)
	if got := getOr(t, r, s.url("/count"), 30*time.Second); got != strconv.Itoa(count+1) {
		t.Fatalf("restore with %v: GET /count = %s, want %d\nstderr: %s", caps, got, count+1, r.stderr.String())
	}
	r.waitOutput(t, "INF restored", 10*time.Second)
	stopWant143(t, r)
}

func stopWant143(t *testing.T, r *stasisRun) {
	t.Helper()
	// The namespace's PID 1 is stasis: signal it directly.
	if err := syscall.Kill(r.hostPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, 30*time.Second); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143\nstderr: %s", code, r.stderr.String())
	}
}

// A restore in a container without a capability the JVM held at its
// checkpoint is not tried: CRIU would hit a BUG ("Unable to restore
// capabilities") and hang until STASIS_RESTORE_TIMEOUT (60 s by default).
// stasis says at once what is missing and how to grant it.
func TestRestorePreflightNamesTheMissingCapability(t *testing.T) {
	s := newService(t, 0)
	// The checkpoint container has SYS_PTRACE and SYS_ADMIN (Docker 20.10's
	// stand-in for CHECKPOINT_RESTORE), so the JVM holds them.
	full := append(leastCaps(), "sys_ptrace", "sys_admin")
	r := s.startWithCaps(t, full, "--warmup-url="+s.url("/count"), "--warmup-requests=5")
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint: exit %d\nstderr: %s", code, r.stderr.String())
	}
	os.Remove(filepath.Join(s.dir, "restore.log"))

	t.Run("fail: exit 4 at once", func(t *testing.T) {
		start := time.Now()
		r := s.startWithCaps(t, []string{"checkpoint_restore"}, "--on-restore-failure=fail", "--restore-timeout=60s")
		code := r.wait(t, 50*time.Second)
		if code != 4 || time.Since(start) > 20*time.Second {
			t.Fatalf("exit %d after %v, want 4 well before the 60 s restore timeout\nstderr: %s", code, time.Since(start), r.stderr.String())
		}
		errs := r.stderr.String()
		for _, want := range []string{"capability SYS_PTRACE missing", "capability SYS_ADMIN missing",
			"--cap-add=SYS_PTRACE", "not tried"} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errs)
			}
		}
		if _, err := os.Stat(filepath.Join(s.dir, "restore.log")); err == nil {
			t.Errorf("CRIU ran (restore.log exists) although the preflight failed")
		}
	})
	t.Run("cold: starts cold at once", func(t *testing.T) {
		r := s.startWithCaps(t, []string{"checkpoint_restore"}, "--restore-timeout=60s")
		if got := getOr(t, r, s.url("/count"), 20*time.Second); got != "1" {
			t.Fatalf("GET /count = %s, want 1 from a cold JVM\nstderr: %s", got, r.stderr.String())
		}
		r.waitOutput(t, "capability SYS_PTRACE missing", 5*time.Second)
		stopWant143(t, r)
	})
}

// A checkpoint in a container without CHECKPOINT_RESTORE (nor SYS_ADMIN) is
// refused before the JVM starts: exit 3 naming the capability, instead of a
// launch, a warm-up and a failing dump.
func TestCheckpointPreflightBeforeLaunch(t *testing.T) {
	s := newService(t, 0)
	r := s.startWithCaps(t, nil, "--warmup-url="+s.url("/count"), "--warmup-requests=5", "--mode=checkpoint")
	if code := r.wait(t, time.Minute); code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", code, r.stderr.String())
	}
	if out := r.stdout.String(); strings.Contains(out, "Started") || strings.Contains(out, "request") {
		t.Errorf("the JVM was started although the checkpoint could not work:\n%s", out)
	}
	errs := r.stderr.String()
	if !strings.Contains(errs, "capability CHECKPOINT_RESTORE missing") || !strings.Contains(errs, "--cap-add=CHECKPOINT_RESTORE") {
		t.Errorf("stderr does not name CHECKPOINT_RESTORE and its fix:\n%s", errs)
	}
}
