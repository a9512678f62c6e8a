package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests checkpoint and restore for real: stasis as PID 1 of a fresh
// PID namespace, the real CRIU, and a real JVM (Debian's OpenJDK) or a shell.

var (
	javaOnce    sync.Once
	javaClasses string
	javaErr     error
)

// needCRIU finds the CRIU that scripts/install-criu installs. Under CI a
// missing CRIU is a failure, not a skip: make test installs it first.
func needCRIU(t testing.TB) string {
	t.Helper()
	requireNamespaces(t)
	for _, c := range []string{os.Getenv("STASIS_CRIU"), "/usr/local/lib/stasis-criu/criu"} {
		if c != "" && exec.Command(c, "--version").Run() == nil {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no working criu: scripts/install-criu should have installed one")
	}
	t.Skip("no working criu: run scripts/install-criu")
	return ""
}

// needService compiles testdata/Service.java once.
func needService(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("no javac: make deps installs a JDK")
	}
	javaOnce.Do(func() {
		javaClasses, javaErr = os.MkdirTemp("", "stasis-java-")
		if javaErr == nil {
			out, err := exec.Command("javac", "-d", javaClasses, "testdata/Service.java").CombinedOutput()
			if err != nil {
				javaErr = fmt.Errorf("javac: %v\n%s", err, out)
			}
		}
	})
	if javaErr != nil {
		t.Fatal(javaErr)
	}
	return javaClasses
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// service is one checkpointable JVM setup: its image and state directories
// and the stasis flags and command that every run of it shares.
type service struct {
	criu, dir, state string
	port             int
	command          []string
}

func newService(t testing.TB, tickMS int) *service {
	criu := needCRIU(t)
	classes := needService(t)
	base := t.TempDir()
	s := &service{criu: criu, dir: filepath.Join(base, "img"), state: filepath.Join(base, "state"), port: freePort(t)}
	s.command = []string{"java", "-cp", classes, "Service", strconv.Itoa(s.port)}
	if tickMS > 0 {
		s.command = append(s.command, strconv.Itoa(tickMS))
	}
	return s
}

func (s *service) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path) }

// start runs stasis for this service with extra flags.
func (s *service) start(t testing.TB, flags ...string) *stasisRun {
	args := append([]string{"--image-dir=" + s.dir, "--state-dir=" + s.state,
		"--checkpoint-on=" + s.url("/count"), "--stop-timeout=5s"}, flags...)
	args = append(append(args, "--"), s.command...)
	return startNS(t, []string{"STASIS_CRIU=" + s.criu}, args...)
}

// checkpoint makes the image (auto mode: no image yet, so this is the
// checkpoint run) and returns the manifest's JVM PID and the last counter value.
func (s *service) checkpoint(t testing.TB) (pid, count int) {
	t.Helper()
	r := s.start(t, "--warmup-url="+s.url("/count"), "--warmup-requests=50")
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint run exit %d\nstdout: %s\nstderr: %s", code, r.stdout.String(), r.stderr.String())
	}
	return s.manifestPID(t), lastNumber(r.stdout.String(), "request")
}

func (s *service) manifestPID(t testing.TB) int {
	b, err := os.ReadFile(filepath.Join(s.dir, "stasis.json"))
	if err != nil {
		t.Fatalf("no manifest after the checkpoint: %v", err)
	}
	var m struct{ PID int }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.PID
}

// get fetches path, retrying until the service answers or the limit passes.
func get(t testing.TB, url string, limit time.Duration) string {
	t.Helper()
	return getOr(t, nil, url, limit)
}

// getOr is get that shows stasis's output when the service never answers.
func getOr(t testing.TB, r *stasisRun, url string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			if r != nil {
				t.Fatalf("GET %s: %v\nstdout: %s\nstderr: %s", url, err, tailString(r.stdout.String(), 2000), r.stderr.String())
			}
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastNumber returns N of the last "WORD N" line.
func lastNumber(out, word string) int {
	re := regexp.MustCompile(`(?m)^` + word + ` (\d+)$`)
	m := re.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// numbers returns every N of "WORD N" lines, in order.
func numbers(out, word string) []int {
	re := regexp.MustCompile(`(?m)^` + word + ` (\d+)$`)
	var ns []int
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		ns = append(ns, n)
	}
	return ns
}

// nsPID is the PID that host process pid has inside its own PID namespace.
func nsPID(t testing.TB, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	t.Fatal("no NSpid")
	return 0
}

// jvmOf returns the host PID of stasis's child (the restored JVM), once
// stasis has said it restored (criu, its other child, is gone by then).
// /proc's children file is per thread, and stasis is a multithreaded Go
// program.
func jvmOf(t testing.TB, r *stasisRun) int {
	t.Helper()
	r.waitOutput(t, "INF restored", 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", r.hostPID))
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			if f := strings.Fields(string(b)); len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("stasis (pid %d) has no child\nstderr: %s", r.hostPID, r.stderr.String())
	return 0
}

func TestCRIUCheckpointAndRestore(t *testing.T) {
	s := newService(t, 0)
	pid, count := s.checkpoint(t)
	if pid <= 1000 {
		t.Fatalf("the JVM had pid %d at checkpoint, want above STASIS_MIN_PID=1000", pid)
	}
	if count < 51 {
		t.Fatalf("counter %d after the checkpoint run: the warm-up did not run 50 requests", count)
	}
	var m struct {
		JavaVersion string `json:"java_version"`
		ImageBytes  int64  `json:"image_bytes"`
	}
	b, _ := os.ReadFile(filepath.Join(s.dir, "stasis.json"))
	if err := json.Unmarshal(b, &m); err != nil || m.JavaVersion == "" || m.ImageBytes == 0 {
		t.Fatalf("manifest lacks the java version or the image size: %s", b)
	}

	t.Run("state, pid and output continue; SIGTERM gives the JVM's status", func(t *testing.T) {
		// A new container has no state directory: the restore must not rely
		// on the control socket (set up concurrently) having made it.
		os.RemoveAll(s.state)
		r := s.start(t)
		if got := get(t, s.url("/count"), 30*time.Second); got != strconv.Itoa(count+1) {
			t.Fatalf("after restore GET /count = %s, want %d (state kept)\nstderr: %s", got, count+1, r.stderr.String())
		}
		if got := nsPID(t, jvmOf(t, r)); got != pid {
			t.Fatalf("restored JVM has pid %d, want %d", got, pid)
		}
		r.waitOutput(t, fmt.Sprintf("request %d\n", count+1), 10*time.Second)
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		if code := r.wait(t, 30*time.Second); code != 143 {
			t.Fatalf("exit %d after SIGTERM, want the JVM's 143\nstderr: %s", code, r.stderr.String())
		}
	})

	t.Run("SIGKILL of the restored JVM gives 137", func(t *testing.T) {
		r := s.start(t)
		get(t, s.url("/count"), 30*time.Second)
		jvm := jvmOf(t, r)
		if got := nsPID(t, jvm); got != pid {
			t.Fatalf("stasis's child has pid %d in the namespace, want the JVM's %d", got, pid)
		}
		syscall.Kill(jvm, syscall.SIGKILL)
		if code := r.wait(t, 30*time.Second); code != 137 {
			t.Fatalf("exit %d, want 137\nstderr: %s", code, r.stderr.String())
		}
	})

	t.Run("the application's own exit status after a restore", func(t *testing.T) {
		r := s.start(t)
		get(t, s.url("/exit?code=7"), 30*time.Second)
		if code := r.wait(t, 30*time.Second); code != 7 {
			t.Fatalf("exit %d, want the JVM's 7\nstderr: %s", code, r.stderr.String())
		}
	})

	t.Run("an image from a CPU with a feature this one lacks is not restored", func(t *testing.T) {
		const feature = "stasis_test_feature"
		manifest := filepath.Join(s.dir, "stasis.json")
		orig, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(manifest, orig, 0o644)
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		cpu, ok := m["cpu"].(map[string]any)
		if !ok || len(cpu["features"].([]any)) == 0 {
			t.Fatalf("the manifest records no CPU features: %s", orig)
		}
		cpu["features"] = append(cpu["features"].([]any), feature)
		b, _ := json.Marshal(m)
		if err := os.WriteFile(manifest, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := inNamespace(t, s, nil, "inspect", s.dir); code != 1 || !strings.Contains(out, "FAIL  cpu") || !strings.Contains(out, feature) {
			t.Fatalf("inspect does not show the CPU verdict: exit %d: %s", code, out)
		}
		r := s.start(t, "--on-restore-failure=fail")
		if code := r.wait(t, time.Minute); code != 4 || !strings.Contains(r.stderr.String(), feature) {
			t.Fatalf("exit %d, want 4 naming %s\nstderr: %s", code, feature, r.stderr.String())
		}
		r = s.start(t)
		if got := get(t, s.url("/count"), 30*time.Second); got != "1" {
			t.Fatalf("GET /count = %s, want 1 from a cold start\nstderr: %s", got, r.stderr.String())
		}
		if !strings.Contains(r.stderr.String(), "starting cold") || !strings.Contains(r.stderr.String(), feature) {
			t.Fatalf("the cold start does not name the missing feature:\n%s", r.stderr.String())
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		r.wait(t, 30*time.Second)
	})
}

// damage copies nothing: it truncates the largest pages file of the image,
// the damage that was measured to hang `criu restore`.
func damage(t testing.TB, dir string) {
	pages, _ := filepath.Glob(filepath.Join(dir, "pages-*.img"))
	var big string
	var size int64
	for _, p := range pages {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			big, size = p, fi.Size()
		}
	}
	if big == "" {
		t.Fatal("no pages image to damage")
	}
	if err := os.Truncate(big, size/2); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedOrMissingImage(t *testing.T) {
	s := newService(t, 0)
	s.checkpoint(t)
	damage(t, s.dir)

	t.Run("damaged: auto mode starts cold and says why", func(t *testing.T) {
		r := s.start(t)
		if got := get(t, s.url("/count"), 60*time.Second); got != "1" {
			t.Fatalf("GET /count = %s, want 1 from a cold JVM", got)
		}
		r.waitOutput(t, "starting cold", 5*time.Second)
		if !strings.Contains(r.stderr.String(), "bytes, the manifest says") {
			t.Fatalf("the reason is not named: %s", r.stderr.String())
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		if code := r.wait(t, 30*time.Second); code != 143 {
			t.Fatalf("exit %d, want 143", code)
		}
	})

	t.Run("damaged: fail exits 4", func(t *testing.T) {
		r := s.start(t, "--on-restore-failure=fail")
		if code := r.wait(t, 60*time.Second); code != 4 {
			t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
		}
	})

	empty := newService(t, 0)
	t.Run("missing: restore mode starts cold", func(t *testing.T) {
		r := empty.start(t, "--mode=restore")
		if got := get(t, empty.url("/count"), 60*time.Second); got != "1" {
			t.Fatalf("GET /count = %s, want 1 from a cold JVM", got)
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		r.wait(t, 30*time.Second)
	})
	t.Run("missing: fail exits 4", func(t *testing.T) {
		r := empty.start(t, "--mode=restore", "--on-restore-failure=fail")
		if code := r.wait(t, 60*time.Second); code != 4 {
			t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
		}
	})
}

// A docker stop during the checkpoint run ends it with the JVM's own status
// and no image: a JVM running its shutdown hooks must not be dumped.
func TestStopDuringWarmupLeavesNoImage(t *testing.T) {
	s := newService(t, 0)
	r := s.start(t, "--mode=checkpoint", "--warmup-url="+s.url("/count"), "--warmup-duration=60s")
	r.waitOutput(t, "warming up", 2*time.Minute)
	start := time.Now()
	syscall.Kill(r.hostPID, syscall.SIGTERM)
	if code := r.wait(t, time.Minute); code != 143 {
		t.Fatalf("exit %d, want the JVM's 143\nstderr: %s", code, r.stderr.String())
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("took %v to stop: the warm-up went on against a stopping JVM", el)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "stasis.json")); err == nil {
		t.Fatal("a manifest was written for a JVM that was asked to stop")
	}
}

func TestSIGKILLDuringDumpLeavesNoImage(t *testing.T) {
	s := newService(t, 0)
	r := s.start(t, "--mode=checkpoint")
	r.waitOutput(t, "checkpointing", 2*time.Minute)
	syscall.Kill(r.hostPID, syscall.SIGKILL)
	r.wait(t, 30*time.Second)
	if _, err := os.Stat(filepath.Join(s.dir, "stasis.json")); err == nil {
		t.Fatal("a manifest exists after stasis was killed during the dump")
	}
	// And the next start does not trust what is there: it checkpoints again.
	r = s.start(t)
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("next checkpoint run exit %d\nstderr: %s", code, r.stderr.String())
	}
}

// checkContinuous checks that the numbered lines of both runs are 1..N,
// each exactly once and in order: nothing lost, nothing printed twice.
func checkContinuous(t testing.TB, word, before, after string) {
	t.Helper()
	all := append(numbers(before, word), numbers(after, word)...)
	if len(numbers(after, word)) == 0 {
		t.Fatalf("no %q lines after the restore:\n%s", word, after)
	}
	for i, n := range all {
		if n != i+1 {
			t.Fatalf("line %d is %q %d, want %d (lines lost or repeated across checkpoint and restore)\nbefore: ...%s\nafter: %s",
				i, word, n, i+1, tailString(before, 400), tailString(after, 400))
		}
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestNumberedLinesAcrossCheckpointAndRestore(t *testing.T) {
	shell := `i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.003; done`
	for _, tc := range []struct {
		name, word string
		command    func(s *service) []string
	}{
		{"shell", "line", func(*service) []string { return []string{"/bin/sh", "-c", shell} }},
		{"java", "tick", func(s *service) []string { return s.command }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(t, 3)
			s.command = tc.command(s)
			flags := []string{"--checkpoint-on=delay:500ms", "--gc-before-checkpoint=false"}
			ck := s.start(t, flags...)
			if code := ck.wait(t, 3*time.Minute); code != 0 {
				t.Fatalf("checkpoint run exit %d\nstderr: %s", code, ck.stderr.String())
			}
			pid := s.manifestPID(t)
			if pid <= 1000 {
				t.Fatalf("pid %d at checkpoint, want above 1000", pid)
			}
			r := s.start(t, flags...)
			r.waitOutput(t, "restored", 30*time.Second)
			if got := nsPID(t, jvmOf(t, r)); got != pid {
				t.Fatalf("restored pid %d, want %d", got, pid)
			}
			time.Sleep(300 * time.Millisecond)
			syscall.Kill(r.hostPID, syscall.SIGTERM)
			r.wait(t, 30*time.Second)
			checkContinuous(t, tc.word, ck.stdout.String(), r.stdout.String())
		})
	}
}
