package openj9attach

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"stasis/attach"
	"stasis/internal/fakejdktest"
)

// startDouble runs the OpenJ9 flavour of testdata/fakejdk (a model of
// OpenJ9's attach target written from its sources) with extra flags and
// environment, and waits for its advertisement.
// commonDir is where the double advertises itself: OpenJ9's common directory
// in $TMPDIR when that is set and exists, else /tmp (IPC.getTmpDir), and the
// double has the test's environment.
func commonDir() string {
	tmp := "/tmp"
	if d := os.Getenv("TMPDIR"); d != "" {
		if _, err := os.Stat(d); err == nil {
			tmp = d
		}
	}
	return filepath.Join(tmp, ".com_ibm_tools_attach")
}

func startDouble(t *testing.T, env []string, flags ...string) int {
	t.Helper()
	home := fakejdktest.Layout(t, fakejdktest.OpenJ9)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(filepath.Join(home, "bin", "java"), append(flags, "-Dfake.port="+strconv.Itoa(port), "Main")...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(filepath.Join(commonDir(), strconv.Itoa(pid)))
	})
	deadline := time.Now().Add(20 * time.Second)
	for !IsOpenJ9(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the double never advertised OpenJ9 attach\nstderr: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return pid
}

// TestJCmdAgainstDouble: the whole protocol (reply file, semaphore, the
// target connecting back with the key, properties reply, detach) and both
// kinds of answer: a string result and an error result.
func TestJCmdAgainstDouble(t *testing.T) {
	pid := startDouble(t, nil, "-XX:+EnableCRIUSupport")
	out, err := JCmd(context.Background(), pid, "help", Options{})
	if err != nil {
		t.Fatalf("help: %v", err)
	}
	// DiagnosticUtils registers CRIU.checkpoint with CRIU support and
	// JDK.checkpoint only with CRaC support.
	if !strings.Contains(out, "GC.run") || !strings.Contains(out, "CRIU.checkpoint") || strings.Contains(out, "JDK.checkpoint") {
		t.Errorf("help answered %q", out)
	}
	for _, cmd := range []string{"No.such", "JDK.checkpoint"} {
		_, err = JCmd(context.Background(), pid, cmd, Options{})
		var je *JVMError
		if !errors.As(err, &je) || je.Text != "Error: Error in command\nCommand "+cmd+" not recognized" {
			t.Errorf("%s: err = %v", cmd, err)
		}
	}
	if _, err := os.Stat(filepath.Join(commonDir(), strconv.Itoa(pid), "replyInfo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replyInfo left behind: %v", err)
	}
	// A second attach works the same way (the target's wait loop goes on).
	if _, err := JCmd(context.Background(), pid, "GC.run", Options{}); err != nil {
		t.Errorf("second attach: %v", err)
	}
}

// TestMainOpenJ9: `stasis jcmd` output and errors (cmd/stasis prints a
// Refusal alone on stderr, exit 1, and a UsageError exits 2).
func TestMainOpenJ9(t *testing.T) {
	pid := startDouble(t, []string{"FAKE_OPENJ9_NO_CHECKPOINT_COMMAND=1"})
	var out bytes.Buffer
	if err := Main([]string{strconv.Itoa(pid), "GC.run"}, &out); err != nil || out.String() != "Command succeeded\n" {
		t.Errorf("GC.run: %v, stdout %q", err, out.String())
	}
	out.Reset()
	var refusal *attach.Refusal
	if err := Main([]string{strconv.Itoa(pid), "JDK.checkpoint"}, &out); !errors.As(err, &refusal) || !strings.Contains(err.Error(), "Command JDK.checkpoint not recognized") {
		t.Errorf("JDK.checkpoint in a release without it: %v", err)
	}
	// Each argument is one word, blanks and all (DiagnosticUtils.makeJcmdCommand).
	if err := Main([]string{strconv.Itoa(pid), "No.such", "a b"}, &out); !errors.As(err, &refusal) || !strings.Contains(err.Error(), "Command No.such,a b not recognized") {
		t.Errorf("an argument with a blank: %v", err)
	}
	var usage *attach.UsageError
	if err := Main([]string{"x", "help"}, &out); !errors.As(err, &usage) || err.Error() != `PID "x" is not a process id` {
		t.Errorf("bad pid: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout after errors: %q", out.String())
	}
}

// TestNotOpenJ9: a process that advertises nothing is not attached to.
func TestNotOpenJ9(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if IsOpenJ9(cmd.Process.Pid) {
		t.Fatal("sleep passes for OpenJ9")
	}
	_, err := JCmd(context.Background(), cmd.Process.Pid, "help", Options{Timeout: time.Second})
	if !errors.Is(err, ErrNotOpenJ9) {
		t.Fatalf("err = %v, want ErrNotOpenJ9", err)
	}
}

// TestJCmdTMPDIR: OpenJ9's common directory is in $TMPDIR when the JVM's
// environment sets one that exists (IPC.getTmpDir, runtime/util/unix/
// filehelp.c), and the client looks for the JVM there.
func TestJCmdTMPDIR(t *testing.T) {
	tmp := t.TempDir()
	t.Cleanup(func() { semRemove(filepath.Join(tmp, commonDirName, notifier)) })
	pid := startDouble(t, []string{"TMPDIR=" + tmp}, "-XX:+EnableCRIUSupport")
	if _, err := os.Stat(filepath.Join(tmp, commonDirName, strconv.Itoa(pid), advertFile)); err != nil {
		t.Fatalf("the double does not advertise itself in $TMPDIR: %v", err)
	}
	if out, err := JCmd(context.Background(), pid, "GC.run", Options{}); err != nil || out != "Command succeeded" {
		t.Fatalf("GC.run: %q, %v", out, err)
	}
}

// TestLockFileMode: the attach lock gets mode 0666 whatever the umask, as
// OpenJ9's lockFileImpl makes it (runtime/jcl/common/attach.c), so that
// other users' attachers can take it too.
func TestLockFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), attachLock)
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	f, err := lockFile(path, 0o666, true)
	if err != nil {
		t.Fatal(err)
	}
	unlockFile(f)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o666 {
		t.Fatalf("%s: %v, %v; want mode 0666", path, st.Mode(), err)
	}
}
