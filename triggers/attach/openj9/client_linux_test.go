package openj9attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"stasis/internal/fakejdktest"
)

// startDouble runs the OpenJ9 flavour of testdata/fakejdk (a model of
// OpenJ9's attach target written from its sources) with extra flags and
// environment, and waits for its advertisement.
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
		os.RemoveAll("/tmp/.com_ibm_tools_attach/" + strconv.Itoa(pid))
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
	pid := startDouble(t, nil)
	out, err := JCmd(context.Background(), pid, "help", Options{})
	if err != nil {
		t.Fatalf("help: %v", err)
	}
	if !strings.Contains(out, "GC.run") || !strings.Contains(out, "CRIU.checkpoint") {
		t.Errorf("help answered %q", out)
	}
	// CRIU.checkpoint without -XX:+EnableCRIUSupport: a string result that
	// says no (DiagnosticUtils.doCRIUCheckpointJVM), not an error.
	out, err = JCmd(context.Background(), pid, "CRIU.checkpoint imageDir=/nonexistent", Options{})
	if err != nil || out != "CRIU support is not enabled, JVM can't perform a checkpoint" {
		t.Errorf("CRIU.checkpoint without CRIU support = %q, %v", out, err)
	}
	_, err = JCmd(context.Background(), pid, "No.such", Options{})
	var je *JVMError
	if !errors.As(err, &je) || je.Text != "Error: Error in command\nCommand No.such not recognized" {
		t.Errorf("unknown command: err = %v", err)
	}
	if _, err := os.Stat(fmt.Sprintf("/tmp/.com_ibm_tools_attach/%d/replyInfo", pid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replyInfo left behind: %v", err)
	}
	// A second attach works the same way (the target's wait loop goes on).
	if _, err := JCmd(context.Background(), pid, "GC.run", Options{}); err != nil {
		t.Errorf("second attach: %v", err)
	}
}

// TestMainOpenJ9: `stasis jcmd` output and exit codes.
func TestMainOpenJ9(t *testing.T) {
	pid := startDouble(t, []string{"FAKE_OPENJ9_NO_CHECKPOINT_COMMAND=1"})
	var out, errOut bytes.Buffer
	if code := Main([]string{strconv.Itoa(pid), "GC.run"}, &out, &errOut); code != 0 || out.String() != "Command succeeded\n" {
		t.Errorf("GC.run: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := Main([]string{strconv.Itoa(pid), "JDK.checkpoint"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "Command JDK.checkpoint not recognized") {
		t.Errorf("JDK.checkpoint in a release without it: exit %d, stderr %q", code, errOut.String())
	}
	if code := Main([]string{"x", "help"}, &out, &errOut); code != 2 {
		t.Errorf("bad pid: exit %d", code)
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
