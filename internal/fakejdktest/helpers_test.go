//go:build linux

package fakejdktest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireCRIU skips unless namespaces and a CRIU 4 are available.
func requireCRIU(t *testing.T) {
	t.Helper()
	RequireNamespaces(t)
	if _, err := FindCRIU(); err != nil {
		t.Skip(err.Error())
	}
}

func requireJcmd(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("jcmd")
	if err != nil {
		t.Skip("the real jcmd is needed to check the attach protocol: " + err.Error())
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get fetches path from the fake app, retrying until it answers.
func get(t *testing.T, port int, path string) string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jcmd runs the real jcmd against pid and returns its combined output.
func jcmd(t *testing.T, pid int, line ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, requireJcmd(t), append([]string{fmt.Sprint(pid)}, line...)...).CombinedOutput()
	return string(out), err
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startJVM starts the fake java of home directly (no namespace).
func startJVM(t *testing.T, home string, env []string, args ...string) (*exec.Cmd, *Buffer, *Buffer) {
	t.Helper()
	cmd := exec.Command(filepath.Join(home, "bin", "java"), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	out, errb := &Buffer{}, &Buffer{}
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A stale socket left by a JVM of another PID namespace with this number
	// would be tried first by jcmd.
	os.Remove(fmt.Sprintf("/tmp/.java_pid%d", cmd.Process.Pid))
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.Remove(fmt.Sprintf("/tmp/.java_pid%d", cmd.Process.Pid))
		os.RemoveAll(filepath.Join(os.TempDir(), ".com_ibm_tools_attach", strconv.Itoa(cmd.Process.Pid)))
	})
	waitFor(t, "Started fake app", 10*time.Second, func() bool { return strings.Contains(out.String(), "Started fake app") })
	return cmd, out, errb
}

// checkpointedImage runs a CRaC JVM in a namespace with a PID above base,
// counts to 3, checkpoints it with the real jcmd and returns the image
// directory and the JVM's PID in its namespace.
func checkpointedImage(t *testing.T, home string, port, base int, extra ...string) (string, string) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "img")
	args := append([]string{filepath.Join(home, "bin", "java"), "-XX:CRaCCheckpointTo=" + img, fmt.Sprintf("-Dfake.port=%d", port), "-Dfake.tick=50ms"}, extra...)
	ns := StartNS(t, home, base, criuPathEnv(t), t.TempDir(), args...)
	for i := 1; i <= 3; i++ {
		if got := get(t, port, "/count"); got != fmt.Sprint(i) {
			t.Fatalf("count %d = %q", i, got)
		}
	}
	nspid := get(t, port, "/pid")
	out, err := jcmd(t, ns.ChildPID(t), "JDK.checkpoint")
	if err != nil {
		t.Fatalf("jcmd JDK.checkpoint: %v\n%s", err, out)
	}
	if st := ns.Wait(t, 30*time.Second); st != "signal 9" {
		t.Fatalf("checkpointed JVM ended with %q, want signal 9 (137)\nstderr:\n%s", st, ns.Stderr)
	}
	return img, nspid
}

// criuPathEnv puts a CRIU on PATH, where current CRaC builds look for it.
func criuPathEnv(t *testing.T) []string {
	return []string{"PATH=" + CRIUDir(t) + ":" + os.Getenv("PATH")}
}
