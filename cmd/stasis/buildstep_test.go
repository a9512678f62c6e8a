package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kidPgrpExec is the part of a job-control build shell that matters here: it
// puts itself in a process group of its own (setpgid, as a shell with job
// control does for each job) and execs its arguments, which thus run as a
// process group leader.
func kidPgrpExec(args []string) int {
	if err := unix.Setpgid(0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "setpgid:", err)
		return 96
	}
	os.Unsetenv("STASIS_TEST_KID")
	err := syscall.Exec(args[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 95
}

// TestCheckpointInBuildStep is the checkpoint run as an image build's RUN step
// makes it: stasis is not PID 1 but a child of the build's shell, which is PID
// 1 of the step's PID namespace; stasis leads a process group (a job-control
// shell gives each job one), so it cannot start a session of its own, and
// its session began outside the namespace. CRIU refuses to dump a JVM whose
// session leader it cannot see ("A session leader of N(N) is outside of its
// pid namespace", checkpoint-restore/criu criu/cr-dump.c), so the JVM must
// lead its own. The JVM's PID is still above STASIS_MIN_PID, nothing of the
// run is left running when stasis exits, its control socket is gone, and the
// image restores in a fresh namespace with the counter where the warm-up
// left it.
func TestCheckpointInBuildStep(t *testing.T) {
	s := newService(t, 0)
	args := []string{"--mode=checkpoint", "--image-dir=" + s.dir, "--state-dir=" + s.state,
		"--checkpoint-on=" + s.url("/count"), "--stop-timeout=5s",
		"--warmup-url=" + s.url("/count"), "--warmup-requests=50", "--"}
	args = append(args, s.command...)
	// The shell lists what is left in the namespace with a glob, which it
	// expands itself: no process of its own shows up in the list.
	script := `"$@"; code=$?; set -- /proc/[0-9]*; echo "left in the namespace: $*"; exit $code`
	argv := append([]string{"/bin/sh", "-c", script, "sh", self(t), stasisBin}, args...)
	r := startPID1Cmd(t, []string{"STASIS_CRIU=" + s.criu, "STASIS_TEST_KID=pgrpexec"}, argv...)
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint run in the build shell exited %d, want 0\nstdout: %s\nstderr: %s",
			code, tailString(r.stdout.String(), 2000), tailString(r.stderr.String(), 3000))
	}
	if left := lineWith(r.stdout.String(), "left in the namespace:"); left != "left in the namespace: /proc/1" {
		t.Errorf("after stasis exited: %q, want only the shell (/proc/1)", left)
	}
	pid := s.manifestPID(t)
	if pid <= 1000 {
		t.Errorf("the JVM had pid %d at checkpoint, want above STASIS_MIN_PID=1000", pid)
	}
	if socks := socketsIn(t, s.state); len(socks) > 0 {
		t.Errorf("sockets left in the state directory after the run: %v", socks)
	}
	count := lastNumber(r.stdout.String(), "request")

	restored := s.start(t)
	if got := get(t, s.url("/count"), 30*time.Second); got != strconv.Itoa(count+1) {
		t.Fatalf("after restore GET /count = %s, want %d\nstderr: %s", got, count+1, restored.stderr.String())
	}
	if got := nsPID(t, jvmOf(t, restored)); got != pid {
		t.Errorf("restored JVM has pid %d, want %d", got, pid)
	}
	syscall.Kill(restored.hostPID, syscall.SIGTERM)
	if code := restored.wait(t, 30*time.Second); code != 143 {
		t.Fatalf("restored run exited %d after SIGTERM, want 143\nstderr: %s", code, restored.stderr.String())
	}
}

// socketsIn lists the sockets under dir.
func socketsIn(t testing.TB, dir string) []string {
	t.Helper()
	var socks []string
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSocket != 0 {
			socks = append(socks, strings.TrimPrefix(path, dir+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return socks
}
