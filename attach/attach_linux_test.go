//go:build linux

package attach

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/internal/linux"
)

func socketOf(pid, nspid int) string {
	return "/proc/" + strconv.Itoa(pid) + "/root/tmp/.java_pid" + strconv.Itoa(nspid)
}

// assertNoTrigger checks that the handshake left no .attach_pid file behind.
func assertNoTrigger(t *testing.T, pid, nspid int) {
	t.Helper()
	name := ".attach_pid" + strconv.Itoa(nspid)
	for _, dir := range []string{"cwd", "root/tmp"} {
		p := filepath.Join("/proc", strconv.Itoa(pid), dir, name)
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("trigger %s left behind (lstat: %v)", p, err)
		}
	}
}

func wantVersion(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "OpenJDK") || !strings.Contains(out, "JDK ") {
		t.Errorf("VM.version answered %q, want the OpenJDK version banner", out)
	}
}

func TestJCmdFirstAndSecondAttach(t *testing.T) {
	j := startJVM(t)
	sock := socketOf(j.pid, j.pid)
	if isSocket(sock) {
		t.Fatalf("%s exists before the first attach; the test would not exercise the SIGQUIT handshake", sock)
	}
	out, err := JCmd(context.Background(), j.pid, "VM.version", Options{})
	if err != nil {
		t.Fatalf("first attach (SIGQUIT handshake): %v", err)
	}
	wantVersion(t, out)
	assertNoTrigger(t, j.pid, j.pid)
	if !isSocket(sock) {
		t.Fatalf("%s missing after the first attach", sock)
	}
	// Second attach: the socket is there, no handshake.
	out, err = JCmd(context.Background(), j.pid, "GC.run", Options{})
	if err != nil {
		t.Fatalf("second attach, GC.run: %v", err)
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("GC.run answered %q, want no output", out)
	}
	help, err := JCmd(context.Background(), j.pid, "help", Options{})
	if err != nil || !strings.Contains(help, "GC.run") || !strings.Contains(help, "VM.version") {
		t.Errorf("help = %q, %v; want the list of commands", help, err)
	}
	if !alive(j.pid) {
		t.Fatal("JVM died")
	}
}

func TestUnknownCommandReturnsJVMText(t *testing.T) {
	j := startJVM(t)
	out, err := JCmd(context.Background(), j.pid, "No.such_command", Options{})
	if err == nil {
		t.Fatalf("unknown command succeeded: %q", out)
	}
	if !IsJVMError(err) {
		t.Errorf("error %v is not marked as the JVM's own", err)
	}
	if want := "java.lang.IllegalArgumentException: Unknown diagnostic command"; err.Error() != want {
		t.Errorf("error = %q, want the JVM's text %q", err, want)
	}
	status, body, err := Execute(context.Background(), j.pid, "no_such_op", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if status == 0 || !strings.Contains(body, "no_such_op") {
		t.Errorf("unknown attach operation: status %d body %q, want a non-zero status naming it", status, body)
	}
	status, body, err = Execute(context.Background(), j.pid, "properties", nil, Options{})
	if err != nil || status != 0 || !strings.Contains(body, "java.vm.name=") {
		t.Errorf("properties: status %d, err %v, body %.80q", status, err, body)
	}
}

func TestAttachDisabled(t *testing.T) {
	for name, setup := range map[string]func(*exec.Cmd){
		"command line": func(c *exec.Cmd) {
			c.Args = append([]string{c.Args[0], "-XX:+DisableAttachMechanism"}, c.Args[1:]...)
		},
		"JAVA_TOOL_OPTIONS": func(c *exec.Cmd) {
			c.Env = append(os.Environ(), "JAVA_TOOL_OPTIONS=-Xss1m -XX:+DisableAttachMechanism")
		},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("java", "-cp", classDir(t), "Sleeper")
			cmd.Dir = t.TempDir()
			setup(cmd)
			j := startReady(t, cmd)
			const timeout = time.Minute
			start := time.Now()
			_, err := JCmd(context.Background(), j.pid, "VM.version", Options{Timeout: timeout})
			if !errors.Is(err, ErrAttachDisabled) {
				t.Fatalf("err = %v, want ErrAttachDisabled", err)
			}
			// Detected from the command line, not by waiting for the timeout.
			if el := time.Since(start); el > timeout/2 {
				t.Errorf("took %s of the %s timeout", el, timeout)
			}
			want := "attach is disabled in pid " + strconv.Itoa(j.pid) + " (-XX:+DisableAttachMechanism)"
			if err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			assertNoTrigger(t, j.pid, j.pid)
			if !alive(j.pid) {
				t.Error("JVM died")
			}
		})
	}
}

func TestNotHotSpotIsNotSignalled(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	_, err := JCmd(context.Background(), cmd.Process.Pid, "VM.version", Options{Timeout: 2 * time.Second})
	if !errors.Is(err, ErrNotHotSpot) {
		t.Fatalf("err = %v, want ErrNotHotSpot", err)
	}
	if !strings.Contains(err.Error(), "is not a HotSpot JVM") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %q, want one line saying it is not a HotSpot JVM", err)
	}
	// SIGQUIT would have killed sleep: give a stray signal time to land.
	time.Sleep(100 * time.Millisecond)
	if !alive(cmd.Process.Pid) {
		t.Fatal("sleep was killed")
	}
	assertNoTrigger(t, cmd.Process.Pid, cmd.Process.Pid)
}

func TestNoProcess(t *testing.T) {
	for _, pid := range []int{-1, 0, 1 << 30} {
		_, err := JCmd(context.Background(), pid, "VM.version", Options{})
		if !errors.Is(err, ErrNoProcess) {
			t.Errorf("pid %d: err = %v, want ErrNoProcess", pid, err)
		}
	}
}

// A JVM whose SIGQUIT has no handler must never be signalled: with -Xrs the
// signal's default action would kill it. -Xrs starts the listener at start-up,
// so attach works at once; after its socket is deleted, attach must time out
// and leave the JVM alive.
func TestNoSIGQUITWithoutHandler(t *testing.T) {
	j := startJVM(t, "-Xrs")
	sock := socketOf(j.pid, j.pid)
	out, err := JCmd(context.Background(), j.pid, "VM.version", Options{})
	if err != nil {
		t.Fatalf("-Xrs JVM: %v", err)
	}
	wantVersion(t, out)
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	_, err = JCmd(context.Background(), j.pid, "VM.version", Options{Timeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "SIGQUIT handler") {
		t.Fatalf("err = %v, want ErrTimeout about the missing SIGQUIT handler", err)
	}
	if !alive(j.pid) {
		t.Fatal("the -Xrs JVM was killed")
	}
	assertNoTrigger(t, j.pid, j.pid)
}

// TestTriggerRemovedWhenJVMDies: a JVM that dies during the handshake
// takes /proc/PID/cwd with it, and the trigger file it was asked to look
// for must still be removed from the directory it was created in (a test
// run once left .attach_pid1003 in cmd/stasis).
func TestTriggerRemovedWhenJVMDies(t *testing.T) {
	j := startJVM(t)
	dir := j.cmd.Dir
	// Stopped, it takes SIGQUIT but never opens its socket.
	if err := syscall.Kill(j.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, j.pid)
	done := make(chan error, 1)
	go func() {
		_, err := JCmd(context.Background(), j.pid, "VM.version", Options{Timeout: 5 * time.Second})
		done <- err
	}()
	trigger := filepath.Join(dir, ".attach_pid"+strconv.Itoa(j.pid))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Lstat(trigger); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trigger %s appeared", trigger)
		}
	}
	syscall.Kill(j.pid, syscall.SIGKILL)
	j.cmd.Wait()
	if err := <-done; err == nil {
		t.Fatal("attach to a JVM killed during the handshake succeeded")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".attach_pid*")); len(left) > 0 {
		t.Errorf("trigger left behind in the dead JVM's working directory: %v", left)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j := startJVM(t, "-Xrs")
	os.Remove(socketOf(j.pid, j.pid))
	_, err := JCmd(ctx, j.pid, "VM.version", Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// threadUIDs returns the effective uid of every thread of this process.
func threadUIDs(t *testing.T) map[string]int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]int{}
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		st, err := parseStatus(data, 1)
		if err != nil {
			t.Fatal(err)
		}
		uids[f] = st.euid*100000 + st.egid
	}
	return uids
}

func TestOtherUserJVM(t *testing.T) {
	requireRoot(t)
	dir := classDir(t)
	cwd, err := os.MkdirTemp("", "attach-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cwd) })
	if err := os.Chown(cwd, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("java", "-cp", dir, "Sleeper")
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "HOME="+cwd)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	j := startReady(t, cmd)
	for i, c := range []string{"VM.version", "VM.version"} { // handshake, then socket
		out, err := JCmd(context.Background(), j.pid, c, Options{})
		if err != nil {
			t.Fatalf("attach %d to a JVM of uid 65534: %v", i+1, err)
		}
		wantVersion(t, out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(socketOf(j.pid, j.pid), &st); err != nil || st.Uid != 65534 {
		t.Errorf("socket owner = %d (%v), want 65534", st.Uid, err)
	}
	assertNoTrigger(t, j.pid, j.pid)
	for task, id := range threadUIDs(t) {
		if id != 0 {
			t.Errorf("%s kept euid*100000+egid %d after the attach", task, id)
		}
	}
}

func requireUnshare(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("unshare is not on PATH: %v", err)
	}
}

func TestPrivateTmpInMountNamespace(t *testing.T) {
	requireUnshare(t)
	// The class directory may itself be under /tmp: the shell's cwd still
	// refers to it after /tmp is overmounted, so it copies the class into
	// the new /tmp first.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs tmpfs /tmp && cp ./Sleeper.class /tmp/ && cd /tmp && exec java -cp /tmp Sleeper")
	cmd.Dir = classDir(t)
	j := startReady(t, cmd)
	out, err := JCmd(context.Background(), j.pid, "VM.version", Options{})
	if err != nil {
		t.Fatalf("attach through /proc/%d/root: %v", j.pid, err)
	}
	wantVersion(t, out)
	if !isSocket(socketOf(j.pid, j.pid)) {
		t.Error("socket not in the JVM's private /tmp")
	}
	if _, err := os.Lstat("/tmp/.java_pid" + strconv.Itoa(j.pid)); err == nil {
		t.Error("socket visible in our /tmp: the JVM's /tmp was not private")
	}
	assertNoTrigger(t, j.pid, j.pid)
}

func TestPIDNamespace(t *testing.T) {
	requireUnshare(t)
	// java runs as pid 2 of the new namespace (sh is 1), so its files are
	// named .java_pid2 while we know it by another pid. A private /tmp
	// keeps it apart from other pid-2 JVMs of concurrent test runs.
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs tmpfs /tmp && cp ./Sleeper.class /tmp/ && java -cp /tmp Sleeper & wait")
	cmd.Dir = classDir(t)
	startReady(t, cmd)
	pid := findNSChild(t, cmd.Process.Pid, 2)
	out, err := JCmd(context.Background(), pid, "VM.version", Options{})
	if err != nil {
		t.Fatalf("attach to pid %d (pid 2 in its namespace): %v", pid, err)
	}
	wantVersion(t, out)
	if !isSocket(socketOf(pid, 2)) {
		t.Errorf("no socket named after the namespace pid 2")
	}
	assertNoTrigger(t, pid, 2)
}

// findNSChild finds the descendant of root whose innermost pid is nspid.
func findNSChild(t *testing.T, root, nspid int) int {
	t.Helper()
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
			if st, err := parseStatus(data, pid); err == nil && st.nspid == nspid && pid != nspid {
				return pid
			}
		}
		queue = append(queue, linux.Children(pid)...)
	}
	t.Fatalf("no process with namespace pid %d under %d", nspid, root)
	return 0
}

func TestOpenJ9AttachDirectory(t *testing.T) {
	requireUnshare(t)
	// No OpenJ9 here: a sleep in a private /tmp that holds OpenJ9's attach
	// directory for its pid stands in for one, and must not be signalled.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs tmpfs /tmp && mkdir -p /tmp/.com_ibm_tools_attach/$$ && echo ready && exec sleep 300`)
	j := startReady(t, cmd)
	_, err := JCmd(context.Background(), j.pid, "VM.version", Options{Timeout: 2 * time.Second})
	want := "pid " + strconv.Itoa(j.pid) + " is an OpenJ9 JVM: it uses OpenJ9's own attach mechanism, which stasis does not speak"
	if !errors.Is(err, ErrOpenJ9) || err.Error() != want {
		t.Fatalf("err = %v, want ErrOpenJ9 %q", err, want)
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(j.pid) {
		t.Fatal("the process was killed")
	}
}

func TestStoppedJVMTimesOut(t *testing.T) {
	j := startJVM(t)
	if _, err := JCmd(context.Background(), j.pid, "VM.version", Options{}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(j.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(j.pid, syscall.SIGCONT)
	waitStopped(t, j.pid)
	_, err := JCmd(context.Background(), j.pid, "VM.version", Options{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Fatalf("err = %v, want ErrTimeout saying the JVM did not answer", err)
	}
}

func TestOtherUserWithoutRoot(t *testing.T) {
	requireRoot(t)
	j := startJVM(t) // runs as root
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "attach-helper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "attach.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+strconv.Itoa(j.pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "only root can attach to another user's JVM") {
		t.Fatalf("as uid 65534: %v: %s", err, out)
	}
	if !alive(j.pid) {
		t.Fatal("JVM died")
	}
}

// waitStopped waits until every thread of pid is stopped: kill(SIGSTOP)
// returns before the threads have noticed it.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		stopped := len(tasks) > 0
		for _, e := range tasks {
			tid, _ := strconv.Atoi(e.Name())
			if st, err := linux.ReadStat(tid); err != nil || st.State != 'T' {
				stopped = false
			}
		}
		if stopped {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d did not stop", pid)
}

// A socket file at the JVM's path that nobody listens on, as left by an
// earlier JVM with the same namespace PID that died by SIGKILL: the attach
// must remove it and wake the JVM's own listener, not fail.
func TestStaleSocketIsReplaced(t *testing.T) {
	j := startJVM(t)
	sock := fmt.Sprintf("/tmp/.java_pid%d", j.pid)
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the file stays; connecting to it is refused
	t.Cleanup(func() { os.Remove(sock) })
	out, err := JCmd(context.Background(), j.pid, "VM.version", Options{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("attach with a stale socket in the way: %v", err)
	}
	if !strings.Contains(out, "JDK") {
		t.Fatalf("VM.version answered %q", out)
	}
}
