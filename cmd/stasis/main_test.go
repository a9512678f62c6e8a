package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"stasis/internal/fakejdktest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stasisBin is the real binary, built once by TestMain. The tests run it as
// PID 1 of a fresh PID namespace and use this test binary, re-executed with
// STASIS_TEST_KID set, as the supervised child (see kid_test.go).
var stasisBin string

func TestMain(m *testing.M) {
	if kid := os.Getenv("STASIS_TEST_KID"); kid != "" {
		os.Exit(runKid(kid, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "stasis-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stasisBin = filepath.Join(dir, "stasis")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", stasisBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build stasis: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if javaClasses != "" {
		os.RemoveAll(javaClasses)
	}
	// The real JVMs of these tests run with the default STASIS_MIN_PID (1000)
	// in namespaces of their own, and their attach files land in the shared /tmp.
	removeStaleAttachFiles(1000, 1200)
	// JVMs started by these tests have this directory as their working
	// directory, where an attach client killed mid-handshake leaves its
	// trigger; every JVM of this binary is gone by now.
	if left, _ := filepath.Glob(".attach_pid*"); len(left) > 0 {
		for _, f := range left {
			os.Remove(f)
		}
	}
	os.Exit(code)
}

// stasisRun is one stasis process (through unshare, or directly).
type stasisRun struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	hostPID        int // stasis's PID as this test sees it
}

func requireNamespaces(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a fresh PID namespace (unshare --pid)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) from util-linux")
	}
}

func self(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// startPID1 starts stasis as PID 1 of a fresh PID namespace with its own
// /proc, the kid as its child, and waits until stasis runs.
func startPID1(t testing.TB, env []string, stasisArgs []string, kid string, kidArgs ...string) *stasisRun {
	t.Helper()
	args := append(append(append([]string{}, stasisArgs...), "--", self(t)), kidArgs...)
	return startNS(t, append([]string{"STASIS_TEST_KID=" + kid}, env...), args...)
}

// startNS starts `stasis ARGS...` as PID 1 of a fresh PID namespace.
func startNS(t testing.TB, env []string, stasisArgs ...string) *stasisRun {
	t.Helper()
	return startPID1Cmd(t, env, append([]string{stasisBin}, stasisArgs...)...)
}

// startPID1Cmd runs argv as PID 1 of a fresh PID namespace with its own
// /proc; argv is stasis, or a shell that ends by exec'ing stasis.
func startPID1Cmd(t testing.TB, env []string, argv ...string) *stasisRun {
	t.Helper()
	requireNamespaces(t)
	args := append([]string{"--pid", "--fork", "--mount-proc"}, argv...)
	r := &stasisRun{cmd: exec.Command("unshare", args...)}
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.hostPID = r.findStasis(t)
	// Killing unshare would leave stasis running; SIGKILL to a namespace's
	// PID 1 ends every process in it.
	t.Cleanup(func() { _ = syscall.Kill(r.hostPID, syscall.SIGKILL); _ = r.cmd.Process.Kill() })
	return r
}

// findStasis is childOf for unshare, with stasis's output when it fails.
func (r *stasisRun) findStasis(t testing.TB) int {
	t.Helper()
	pid := r.cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			return n
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("stasis (child of unshare %d) not found\nstdout: %s\nstderr: %s", pid, r.stdout.String(), r.stderr.String())
	return 0
}

// wait returns stasis's exit status (unshare --fork exits with its child's).
func (r *stasisRun) wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		t.Fatalf("stasis did not exit within %v\nstdout: %s\nstderr: %s", limit, r.stdout.String(), r.stderr.String())
		return -1
	}
}

// runOutput runs cmd with stdout and stderr together and returns its exit
// status and output; only a failure to run it at all fails the test.
func runOutput(t testing.TB, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// syncBuffer is a buffer the test may read while exec copies stasis's
// output into it.
type syncBuffer = fakejdktest.Buffer

// waitOutput waits until stasis's stdout or stderr contains want.
func (r *stasisRun) waitOutput(t testing.TB, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if strings.Contains(r.stdout.String(), want) || strings.Contains(r.stderr.String(), want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("stasis never printed %q\nstdout: %s\nstderr: %s", want, r.stdout.String(), r.stderr.String())
}

func (r *stasisRun) waitFile(t testing.TB, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s never contained %q (has %q)\nstderr: %s", path, want, b, r.stderr.String())
}

func TestExitCodesPassThrough(t *testing.T) {
	for _, code := range []int{0, 1, 3, 255} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r := startPID1(t, nil, nil, "exit", strconv.Itoa(code))
			if got := r.wait(t, 20*time.Second); got != code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", got, code, r.stderr.String())
			}
		})
	}
}

func TestKilledChildGives128PlusN(t *testing.T) {
	for _, tc := range []struct {
		sig  string
		want int
	}{{"TERM", 143}, {"KILL", 137}, {"SEGV", 139}} {
		t.Run(tc.sig, func(t *testing.T) {
			r := startPID1(t, nil, nil, "killself", tc.sig)
			if got := r.wait(t, 20*time.Second); got != tc.want {
				t.Fatalf("exit status %d, want %d\nstderr: %s", got, tc.want, r.stderr.String())
			}
			if !strings.Contains(r.stderr.String(), "killed by signal") {
				t.Fatalf("no line saying how the child died: %s", r.stderr.String())
			}
		})
	}
}

func TestSignalsAreForwarded(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "signals")
	r := startPID1(t, nil, nil, "record", rec)
	r.waitFile(t, rec, "ready")
	sent := []string{"HUP", "QUIT", "USR1", "USR2", "WINCH", "CONT", "ALRM", "INT", "TERM"}
	for _, s := range sent {
		if err := exec.Command("kill", "-"+s, strconv.Itoa(r.hostPID)).Run(); err != nil {
			t.Fatal(err)
		}
		r.waitFile(t, rec, "SIG"+s+"\n")
	}
	if got := r.wait(t, 20*time.Second); got != 0 {
		t.Fatalf("exit status %d, want 0\nstderr: %s", got, r.stderr.String())
	}
	b, _ := os.ReadFile(rec)
	for _, bad := range []string{"SIGCHLD", "SIGURG", "SIGPIPE"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("child received %s, which stasis must not forward:\n%s", bad, b)
		}
	}
}

func TestStopTimeoutKillsChildIgnoringSIGTERM(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "signals")
	r := startPID1(t, nil, []string{"--stop-timeout=300ms"}, "ignoreterm", rec)
	r.waitFile(t, rec, "ready")
	start := time.Now()
	if err := exec.Command("kill", "-TERM", strconv.Itoa(r.hostPID)).Run(); err != nil {
		t.Fatal(err)
	}
	if got := r.wait(t, 20*time.Second); got != 137 {
		t.Fatalf("exit status %d, want 137 (SIGKILL)\nstderr: %s", got, r.stderr.String())
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("killed after %v, before the stop timeout", el)
	}
	r.waitFile(t, rec, "SIGTERM")
	if !strings.Contains(r.stderr.String(), "SIGKILL") {
		t.Fatalf("stasis did not say it sent SIGKILL: %s", r.stderr.String())
	}
}

func TestOrphanBurstLeavesNoZombie(t *testing.T) {
	r := startPID1(t, nil, nil, "orphans", "1000")
	if got := r.wait(t, 60*time.Second); got != 0 {
		t.Fatalf("exit status %d: the kid saw zombies or failed\nstdout: %s\nstderr: %s", got, r.stdout.String(), r.stderr.String())
	}
	if !strings.Contains(r.stdout.String(), "orphans reaped: 1000") {
		t.Fatalf("kid did not confirm: %s", r.stdout.String())
	}
}

func TestLeftoverDescendantsAreEnded(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "leftovers")
	r := startPID1(t, nil, []string{"--stop-timeout=500ms"}, "leave", rec)
	start := time.Now()
	if got := r.wait(t, 30*time.Second); got != 7 {
		t.Fatalf("exit status %d, want the main child's 7\nstderr: %s", got, r.stderr.String())
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("took %v: leftovers were not ended", el)
	}
	r.waitFile(t, rec, "polite got SIGTERM")
	if !strings.Contains(r.stderr.String(), "survived the stop timeout") {
		t.Fatalf("the TERM-ignoring leftover was not SIGKILLed after the timeout: %s", r.stderr.String())
	}
}

func TestStdioPassesThroughByteForByte(t *testing.T) {
	requireNamespaces(t)
	in := make([]byte, 1<<20)
	for i := range in {
		in[i] = byte(i*7 + i>>8)
	}
	in = append(in, []byte("no newline at the end")...)
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", stasisBin, "--log-level=error", "--", self(t))
	cmd.Env = append(os.Environ(), "STASIS_TEST_KID=cat")
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("stdout differs: got %d bytes, want %d", out.Len(), len(in))
	}
	if !bytes.Equal(errb.Bytes(), in) {
		t.Fatalf("stderr differs: got %d bytes, want %d", errb.Len(), len(in))
	}
}

// With a terminal on stdin, the command gets the terminal's foreground only
// when it is stasis's own; after setsid (every mode but run) it is not, and
// the command must still start.
func TestTerminalOnStdin(t *testing.T) {
	requireNamespaces(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) from util-linux for a pty")
	}
	for _, mode := range []string{"run", "auto"} {
		line := "unshare --pid --fork --mount-proc " + stasisBin + " --mode=" + mode +
			" --image-dir=" + t.TempDir() + " --state-dir=" + t.TempDir() + " -- /bin/sh -c 'test -t 0 && exit 7'"
		out, err := exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 7 {
			t.Fatalf("mode %s: %v, want exit 7 (the command ran, with the terminal on stdin)\n%s", mode, err, out)
		}
	}
}

func TestSubreaperWhenNotPID1(t *testing.T) {
	r := &stasisRun{cmd: exec.Command(stasisBin, "--", self(t))}
	r.cmd.Env = append(os.Environ(), "STASIS_TEST_KID=subreaper")
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if got := r.wait(t, 30*time.Second); got != 0 {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", got, r.stdout.String(), r.stderr.String())
	}
	if !strings.Contains(r.stdout.String(), "orphan adopted by stasis and reaped") {
		t.Fatalf("kid did not confirm: %s", r.stdout.String())
	}
}
