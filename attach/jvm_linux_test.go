//go:build linux

package attach

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run real JVMs: a class that prints "ready" once main runs (by
// then HotSpot has installed its SIGQUIT handler) and then sleeps.
const sleeperSource = `public class Sleeper {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
`

var (
	sleeperOnce sync.Once
	sleeperDir  string
	sleeperErr  error
)

// classDir compiles Sleeper once into a directory every user can read, so
// a JVM running as nobody can load it.
func classDir(tb testing.TB) string {
	tb.Helper()
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not on PATH: %v", tool, err)
		}
	}
	sleeperOnce.Do(func() {
		sleeperDir, sleeperErr = os.MkdirTemp("", "attach-sleeper-")
		if sleeperErr != nil {
			return
		}
		if sleeperErr = os.Chmod(sleeperDir, 0o755); sleeperErr != nil {
			return
		}
		src := filepath.Join(sleeperDir, "Sleeper.java")
		if sleeperErr = os.WriteFile(src, []byte(sleeperSource), 0o644); sleeperErr != nil {
			return
		}
		out, err := exec.Command("javac", "-d", sleeperDir, src).CombinedOutput()
		if err != nil {
			sleeperErr = fmt.Errorf("javac: %v: %s", err, out)
		}
	})
	if sleeperErr != nil {
		tb.Fatalf("compile Sleeper: %v", sleeperErr)
	}
	return sleeperDir
}

func TestMain(m *testing.M) {
	if pid := os.Getenv(helperEnv); pid != "" {
		os.Exit(attachHelper(pid))
	}
	code := m.Run()
	if sleeperDir != "" {
		os.RemoveAll(sleeperDir)
	}
	os.Exit(code)
}

// jvm is a running test process and the pid to attach to.
type jvm struct {
	cmd *exec.Cmd
	pid int
}

// startReady starts cmd, waits for "ready" on its stdout and registers its
// cleanup. The process group is killed at the end, so that helpers
// (unshare, sh) and the JVM go together.
func startReady(tb testing.TB, cmd *exec.Cmd) *jvm {
	tb.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.Stderr = &tailWriter{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %v: %v", cmd.Args, err)
	}
	tb.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		removeStaleSocket(fmt.Sprintf("/tmp/.java_pid%d", cmd.Process.Pid))
	})
	ready := make(chan error, 1)
	go func() {
		// Skip JVM warnings printed before main runs.
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "ready\n" {
				ready <- err
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			tb.Fatalf("%v did not get ready: %v; stderr: %s", cmd.Args, err, cmd.Stderr)
		}
	case <-time.After(60 * time.Second):
		tb.Fatalf("%v did not print ready in 60s; stderr: %s", cmd.Args, cmd.Stderr)
	}
	return &jvm{cmd: cmd, pid: cmd.Process.Pid}
}

// startJVM runs java directly with extra JVM options.
func startJVM(tb testing.TB, opts ...string) *jvm {
	tb.Helper()
	dir := classDir(tb)
	args := append(append([]string{}, opts...), "-cp", dir, "Sleeper")
	cmd := exec.Command("java", args...)
	cmd.Dir = tb.TempDir()
	return startReady(tb, cmd)
}

// removeStaleSocket removes the attach socket a JVM killed by SIGKILL leaves in
// the shared /tmp (HotSpot removes it only at a normal exit). A socket that
// still accepts belongs to a live JVM, one in another PID namespace with this
// PID, and stays.
func removeStaleSocket(path string) {
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
	}
}

// tailWriter keeps a process's stderr for failure messages.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > 8192 {
		w.buf = w.buf[len(w.buf)-8192:]
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	st, err := parseStatus(data, pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

// removeSocket deletes a JVM's attach socket. HotSpot notices on the next
// SIGQUIT with a trigger present and starts its listener again.
func removeSocket(tb testing.TB, sock string) {
	tb.Helper()
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
}

// helperEnv makes the test binary attach to the pid it names and print the
// error, so that a test can attach as another user.
const helperEnv = "ATTACH_TEST_HELPER_PID"

func attachHelper(pid string) int {
	n, _ := strconv.Atoi(pid)
	_, err := JCmd(context.Background(), n, "VM.version", Options{Timeout: 5 * time.Second})
	if errors.Is(err, ErrPermission) {
		fmt.Println("ErrPermission:", err)
		return 0
	}
	fmt.Println("unexpected:", err)
	return 1
}
