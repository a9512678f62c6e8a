package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/supervisor"
)

// sub runs a subcommand of the real binary from another process, as docker
// exec or a Kubernetes exec probe does, with the service's state directory.
func (s *service) sub(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	return s.run(t, env, stasisBin, args...)
}

// run runs bin with the service's settings in its environment.
func (s *service) run(t *testing.T, env []string, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "STASIS_STATE_DIR="+s.state, "STASIS_IMAGE_DIR="+s.dir,
		"STASIS_CRIU="+s.criu), env...)
	return runOutput(t, cmd)
}

// healthyWithin runs the healthcheck until it passes.
func (s *service) healthyWithin(t *testing.T, limit time.Duration, env ...string) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, out := s.sub(t, env, "healthcheck")
		if code == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck still failing after %v: exit %d: %s", limit, code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *service) status(t *testing.T) supervisor.Status {
	t.Helper()
	code, out := s.sub(t, nil, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, out)
	}
	var st supervisor.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not a Status: %v\n%s", err, out)
	}
	return st
}

// manualCheckpoint is the checkpoint run of the shared image, checked on the
// way: the healthcheck while waiting for readiness and while checkpointing,
// status while waiting, and `stasis checkpoint` from another process.
func manualCheckpoint(t *testing.T, s *service) {
	r := s.start(t, "--mode=checkpoint", "--checkpoint-on=manual")
	r.waitOutput(t, "launched for checkpoint", 30*time.Second)
	get(t, s.url("/count"), 30*time.Second) // the JVM serves; stasis still waits for the trigger
	code, out := s.sub(t, nil, "healthcheck")
	if code != 1 || !strings.Contains(out, "waiting for readiness") {
		t.Fatalf("healthcheck while waiting: exit %d: %s", code, out)
	}
	if st := s.status(t); st.Phase != supervisor.PhaseWaitingReady || st.PID <= 1000 || st.Mode != "checkpoint" || st.Engine != "criu" {
		t.Fatalf("status while waiting: %+v", st)
	}
	if code, out := s.sub(t, nil, "checkpoint"); code != 0 || !strings.Contains(out, "checkpoint requested") {
		t.Fatalf("stasis checkpoint: exit %d: %s", code, out)
	}
	// Until stasis exits, every healthcheck fails, and one sees the dump.
	exited := make(chan int, 1)
	go func() { exited <- r.wait(t, 3*time.Minute) }()
	var seen []string
	for {
		select {
		case code := <-exited:
			if code != 0 {
				t.Fatalf("checkpoint run exit %d\nstderr: %s", code, r.stderr.String())
			}
			if !strings.Contains(strings.Join(seen, ""), "unhealthy: checkpointing") {
				t.Fatalf("no healthcheck saw the checkpoint; they said:\n%s", strings.Join(seen, ""))
			}
			return
		default:
		}
		code, out := s.sub(t, nil, "healthcheck")
		if code == 0 {
			t.Fatalf("healthy during the checkpoint run: %s", out)
		}
		seen = append(seen, out)
	}
}

func TestSubcommandsAgainstRealJVM(t *testing.T) {
	s := newService(t, 0)
	manualCheckpoint(t, s)
	pid := s.manifestPID(t)
	health := "--health=" + s.url("/count")

	t.Run("healthcheck and status after a restore", func(t *testing.T) {
		r := s.start(t, "--checkpoint-on=manual", health)
		out := s.healthyWithin(t, 30*time.Second)
		if !strings.Contains(out, "restored") {
			t.Fatalf("healthy, but not saying restored: %s", out)
		}
		st := s.status(t)
		if st.Phase != supervisor.PhaseRunning || st.Start != supervisor.StartRestored || st.PID != pid ||
			st.Engine != "criu" || st.Mode != "auto" || st.RestoreMS <= 0 || st.UptimeMS <= 0 ||
			st.StartedAt.IsZero() || st.Health != s.url("/count") {
			t.Fatalf("status after restore: %+v (image pid %d)", st, pid)
		}
		if p := st.Plan; p == nil || p.Action != supervisor.ActRestore || len(p.Reasons) == 0 {
			t.Fatalf("status after restore: plan %+v", p)
		}
		_, raw := s.sub(t, nil, "status", "--json")
		for _, k := range []string{`"phase"`, `"mode"`, `"engine"`, `"pid"`, `"start"`, `"restore_ms"`, `"started_at"`, `"uptime_ms"`, `"health_probe"`} {
			if !strings.Contains(raw, k) {
				t.Errorf("status --json lacks %s: %s", k, raw)
			}
		}
		if code, out := s.sub(t, nil, "status"); code != 0 || !strings.Contains(out, "restored in") {
			t.Fatalf("status: exit %d: %s", code, out)
		}
		if code, out := s.sub(t, nil, "checkpoint"); code != 1 || !strings.Contains(out, "not waiting") {
			t.Fatalf("stasis checkpoint while running: exit %d: %s", code, out)
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		r.wait(t, 30*time.Second)
	})

	t.Run("healthcheck when the probe starts failing", func(t *testing.T) {
		r := s.start(t, "--checkpoint-on=manual", health)
		s.healthyWithin(t, 30*time.Second)
		jvm := jvmOf(t, r)
		syscall.Kill(jvm, syscall.SIGSTOP) // a JVM that accepts connections but answers nothing
		defer syscall.Kill(jvm, syscall.SIGCONT)
		start := time.Now()
		code, out := s.sub(t, []string{"STASIS_HEALTH_TIMEOUT=500ms"}, "healthcheck")
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("healthcheck took %v with STASIS_HEALTH_TIMEOUT=500ms", el)
		}
		if code != 1 || !strings.Contains(out, "probe failed") {
			t.Fatalf("stopped JVM: exit %d: %s", code, out)
		}
		syscall.Kill(jvm, syscall.SIGCONT)
		s.healthyWithin(t, 10*time.Second)
		code, out = s.sub(t, []string{"STASIS_HEALTH=" + s.url("/missing")}, "healthcheck")
		if code != 1 || !strings.Contains(out, "probe failed: status 404") {
			t.Fatalf("404: exit %d: %s", code, out)
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		r.wait(t, 30*time.Second)
	})

	t.Run("healthcheck after a restore failure, with the cold start running", func(t *testing.T) {
		// The image was made for the service's command; a start with another
		// command (a tick of 0 ms added) cannot restore it and starts cold.
		// (STASIS_ENGINE=crac on this JDK, which has no CRaC, is refused
		// before anything starts: exit 2.)
		other := *s
		other.command = append(append([]string{}, s.command...), "0")
		r := other.start(t, "--checkpoint-on=manual", health)
		out := s.healthyWithin(t, 60*time.Second)
		if !strings.Contains(out, "cold start after a failed restore") || !strings.Contains(out, "made for the command") {
			t.Fatalf("healthy, but not saying the restore failed: %s", out)
		}
		code, out := s.sub(t, []string{"STASIS_HEALTH=" + s.url("/missing")}, "healthcheck")
		if code != 1 || !strings.Contains(out, "restore failed and cold start under way: probe failed: status 404") {
			t.Fatalf("failing probe after a failed restore: exit %d: %s", code, out)
		}
		if st := s.status(t); st.Start != supervisor.StartColdFailure || st.RestoreError == "" ||
			st.Plan == nil || st.Plan.Action != supervisor.ActCold || !strings.Contains(strings.Join(st.Plan.Reasons, " "), "made for the command") {
			t.Fatalf("status: %+v, plan %+v", st, st.Plan)
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		r.wait(t, 30*time.Second)
	})

	t.Run("inspect: restorable in a fresh namespace, not when damaged", func(t *testing.T) {
		code, out := inNamespace(t, s, nil, "inspect", s.dir, "--json")
		var rep struct {
			Restorable bool
			Manifest   struct{ PID int }
			Checks     []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Restorable || rep.Manifest.PID != pid {
			t.Fatalf("inspect --json: exit %d, %v: %s", code, err, out)
		}
		if code, out := inNamespace(t, s, nil, "inspect"); code != 0 || !strings.Contains(out, "restorable here: yes") || !strings.Contains(out, "Service") {
			t.Fatalf("inspect: exit %d: %s", code, out)
		}
		bad := copyImage(t, s.dir)
		damage(t, bad)
		if code, out := inNamespace(t, s, nil, "inspect", bad); code != 1 || !strings.Contains(out, "FAIL  files") {
			t.Fatalf("inspect of a damaged image: exit %d: %s", code, out)
		}
		// A restore refuses an image made for another command, or by
		// another engine than STASIS_ENGINE names: inspect says so too
		// (before, it never compared them and said "restorable here: yes").
		code, out = inNamespace(t, s, nil, append([]string{"inspect", s.dir, "--"}, s.command...)...)
		if code != 0 || !strings.Contains(out, "restorable here: yes") || !strings.Contains(out, "a start here: restore") {
			t.Fatalf("inspect with the image's own command: exit %d: %s", code, out)
		}
		code, out = inNamespace(t, s, nil, "inspect", s.dir, "--", "java", "-cp", "/elsewhere", "Other")
		if code != 1 || !strings.Contains(out, "FAIL  match") || !strings.Contains(out, "made for the command") || !strings.Contains(out, "restorable here: no") ||
			!strings.Contains(out, "a start here: cold") {
			t.Fatalf("inspect for another command: exit %d: %s", code, out)
		}
		code, out = inNamespace(t, s, []string{"STASIS_ENGINE=warp"}, "inspect", s.dir)
		if code != 1 || !strings.Contains(out, "this start uses warp") {
			t.Fatalf("inspect with another engine named: exit %d: %s", code, out)
		}
	})

	t.Run("doctor with a complete image present", func(t *testing.T) {
		env := []string{"STASIS_MODE=restore"}
		code, out := inNamespace(t, s, env, append([]string{"doctor", "--"}, s.command...)...)
		if code != 0 || !strings.Contains(out, "complete image for this command") {
			t.Fatalf("doctor: exit %d: %s", code, out)
		}
		code, out = inNamespace(t, s, env, "doctor", "--", "java", "-cp", "/elsewhere", "Other")
		if code != 1 || !strings.Contains(out, "cannot be restored") {
			t.Fatalf("doctor for another command: exit %d: %s", code, out)
		}
	})
}

// inNamespace runs a subcommand in a fresh PID namespace, as in a new
// container: the image's PID is free there, whatever the host runs.
func inNamespace(t *testing.T, s *service, env []string, args ...string) (int, string) {
	t.Helper()
	return s.run(t, env, "unshare", append([]string{"--pid", "--fork", "--mount-proc", stasisBin}, args...)...)
}

func copyImage(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "img")
	if out, err := exec.Command("cp", "-a", dir, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}
