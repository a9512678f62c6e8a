//go:build linux

package fakejdktest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

func execCommand(java string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(java, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func TestLayoutAndBanners(t *testing.T) {
	cases := []struct {
		flavour, file, banner, release string
	}{
		{CRaC, "lib/criuhelper", "Zulu17.54+21-CRaC-CA", `IMPLEMENTOR="Azul Systems, Inc."`},
		{CRaCLegacy, "lib/criuengine", "Zulu17.54+21-CRaC-CA", `IMPLEMENTOR="Azul Systems, Inc."`},
		{OpenJ9, "lib/default/libj9vm29.so", "Eclipse OpenJ9 VM", `IMPLEMENTOR="IBM Corporation"`},
		{HotSpot, "lib/server/libjvm.so", "OpenJDK 64-Bit Server VM (build", `IMPLEMENTOR="Debian"`},
	}
	for _, c := range cases {
		t.Run(c.flavour, func(t *testing.T) {
			home := Layout(t, c.flavour)
			if _, err := os.Stat(filepath.Join(home, c.file)); err != nil {
				t.Errorf("home lacks %s: %v", c.file, err)
			}
			if r := readFile(t, filepath.Join(home, "release")); !strings.Contains(r, c.release) || !strings.Contains(r, `JAVA_VERSION="17.0.`) {
				t.Errorf("release = %q", r)
			}
			code, stderr := runJava(t, filepath.Join(home, "bin", "java"), nil, "-version")
			if code != 0 || !strings.Contains(stderr, c.banner) {
				t.Errorf("java -version: exit %d, stderr %q; want %q", code, stderr, c.banner)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(Layout(t, OpenJ9), "lib", "criuengine")); err == nil {
		t.Error("an OpenJ9 home must not look like CRaC")
	}
}

// TestAttachWithRealJcmd: the real jcmd from Debian's JDK attaches to the
// double, so the protocol (trigger file, SIGQUIT, socket, request, reply) is
// HotSpot's.
func TestAttachWithRealJcmd(t *testing.T) {
	requireJcmd(t)
	home := Layout(t, CRaC)
	cmd, _, _ := startJVM(t, home, nil, fmt.Sprintf("-Dfake.port=%d", freePort(t)))
	pid := cmd.Process.Pid
	cases := []struct {
		line, want string
		fails      bool
	}{
		{"VM.version", "JDK 17.0.13", false},
		{"help", "JDK.checkpoint", false},
		{"GC.run", "Command executed successfully", false},
		{"System.trim_native_heap", "Trim native heap", false},
		{"Thread.print", "java.lang.IllegalArgumentException: Unknown diagnostic command", true},
	}
	for _, c := range cases {
		out, err := jcmd(t, pid, c.line)
		if (err != nil) != c.fails || !strings.Contains(out, c.want) {
			t.Errorf("jcmd %s: err %v, output %q; want %q (fails=%v)", c.line, err, out, c.want, c.fails)
		}
	}
	sock := fmt.Sprintf("/tmp/.java_pid%d", pid)
	st, err := os.Stat(sock)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("attach socket %s: %v %v, want a 0600 socket", sock, st.Mode(), err)
	}
	out, err := jcmd(t, pid, "JDK.checkpoint")
	if err != nil || !strings.Contains(out, "C/R is not configured") {
		t.Errorf("JDK.checkpoint without CRaCCheckpointTo: %v %q", err, out)
	}
}

// TestThreadDumpWithoutTrigger: SIGQUIT with no .attach_pid prints a thread
// dump and opens no socket.
func TestThreadDumpWithoutTrigger(t *testing.T) {
	home := Layout(t, HotSpot)
	cmd, out, _ := startJVM(t, home, nil, fmt.Sprintf("-Dfake.port=%d", freePort(t)))
	cmd.Process.Signal(syscall.SIGQUIT)
	waitFor(t, "a thread dump", 5*time.Second, func() bool { return strings.Contains(out.String(), "Full thread dump") })
	if _, err := os.Stat(fmt.Sprintf("/tmp/.java_pid%d", cmd.Process.Pid)); err == nil {
		t.Error("attach socket created without a trigger file")
	}
}

// TestAttachPeerCredentials: a client with another uid and gid is dropped
// without a reply, even when the socket's mode lets it connect.
func TestAttachPeerCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching a thread's credentials needs root")
	}
	home := Layout(t, CRaC)
	cmd, _, _ := startJVM(t, home, nil, fmt.Sprintf("-Dfake.port=%d", freePort(t)))
	pid := cmd.Process.Pid
	sock := triggerAttach(t, pid)
	os.Chmod(sock, 0o666)
	request := "1\x00jcmd\x00VM.version\x00\x00\x00"
	if reply := attachAs(t, sock, 0, 0, request); !strings.HasPrefix(reply, "0\n") {
		t.Fatalf("root's reply = %q", reply)
	}
	if reply := attachAs(t, sock, 65534, 65534, request); reply != "" {
		t.Errorf("uid 65534 got a reply %q; HotSpot closes such connections", reply)
	}
	if reply := attachAs(t, sock, 0, 0, "2\x00jcmd\x00VM.version\x00\x00\x00"); reply != "101\n" {
		t.Errorf("wrong protocol version: reply %q, want 101", reply)
	}
	if reply := attachAs(t, sock, 0, 0, "1\x00nosuchop\x00\x00\x00\x00"); reply != "-1\nOperation nosuchop not recognized!" {
		t.Errorf("unknown operation: reply %q", reply)
	}
}

// triggerAttach starts the listener the way clients do.
func triggerAttach(t *testing.T, pid int) string {
	t.Helper()
	trigger := fmt.Sprintf("/tmp/.attach_pid%d", pid)
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(trigger)
	syscall.Kill(pid, syscall.SIGQUIT)
	sock := fmt.Sprintf("/tmp/.java_pid%d", pid)
	waitFor(t, "the attach socket", 5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	return sock
}

// attachAs connects with a thread whose credentials are uid/gid (SO_PEERCRED
// reports the connecting thread's), sends req and returns the reply.
func attachAs(t *testing.T, sock string, uid, gid int, req string) string {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // the thread is left with odd credentials: never unlocked, so it exits
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
				err = e
			} else if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
				err = e
			} else {
				err = unix.Connect(fd, &unix.SockaddrUnix{Name: sock})
			}
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("connect to %s as %d/%d: %v", sock, uid, gid, r.err)
	}
	c, err := net.FileConn(os.NewFile(uintptr(r.fd), sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(req))
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestInheritedFDsClosed: with CRaCCheckpointTo the VM closes inherited
// descriptors above 2 unless CRaCIgnoredFileDescriptors names them.
func TestInheritedFDsClosed(t *testing.T) {
	home := Layout(t, CRaC)
	f3, _ := os.Open(os.DevNull)
	f4, _ := os.Open(os.DevNull)
	defer f3.Close()
	defer f4.Close()
	cmd := exec.Command(filepath.Join(home, "bin", "java"), "-XX:CRaCCheckpointTo="+filepath.Join(t.TempDir(), "img"),
		"-XX:CRaCIgnoredFileDescriptors=4", fmt.Sprintf("-Dfake.port=%d", freePort(t)))
	cmd.ExtraFiles = []*os.File{f3, f4}
	out := &Buffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, "start", 10*time.Second, func() bool { return strings.Contains(out.String(), "Started fake app") })
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", cmd.Process.Pid)); err == nil && l == os.DevNull {
		t.Error("inherited fd 3 is still open")
	}
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/4", cmd.Process.Pid)); err != nil || l != os.DevNull {
		t.Errorf("ignored fd 4: %q %v, want it kept", l, err)
	}
}

// TestOpenFileBlocksCheckpoint: an open file makes JDK.checkpoint answer a
// CheckpointOpenFileException; the JVM keeps running and dumps nothing.
func TestOpenFileBlocksCheckpoint(t *testing.T) {
	requireJcmd(t)
	home := Layout(t, CRaC)
	held := filepath.Join(t.TempDir(), "held.log")
	os.WriteFile(held, []byte("x"), 0o644)
	img := filepath.Join(t.TempDir(), "img")
	port := freePort(t)
	cmd, _, _ := startJVM(t, home, []string{"FAKE_OPEN_FILE=" + held}, "-XX:CRaCCheckpointTo="+img, fmt.Sprintf("-Dfake.port=%d", port))
	out, err := jcmd(t, cmd.Process.Pid, "JDK.checkpoint")
	if err != nil || !strings.Contains(out, "CheckpointOpenFileException") || !strings.Contains(out, held) {
		t.Errorf("jcmd JDK.checkpoint: %v %q; want a CheckpointOpenFileException naming %s", err, out, held)
	}
	if got := get(t, port, "/count"); got != "1" {
		t.Errorf("JVM after refused checkpoint: count %q", got)
	}
	if _, err := os.Stat(filepath.Join(img, "engine")); err == nil {
		t.Error("a refused checkpoint wrote an image")
	}
}

// TestDumpFailureKeepsRunning: the attach reply says OK, CRIU fails, the
// error is in dump4.log and on the JVM's stderr, and the JVM runs on.
func TestDumpFailureKeepsRunning(t *testing.T) {
	requireCRIU(t)
	requireJcmd(t)
	home := Layout(t, CRaCLegacy) // a current build exits instead: TestDumpFailureExits
	port, base := freePort(t), PIDBase()
	img := filepath.Join(t.TempDir(), "img")
	ns := StartNS(t, home, base, []string{"FAKE_DUMP_FAIL=1"}, t.TempDir(),
		filepath.Join(home, "bin", "java"), "-XX:CRaCCheckpointTo="+img, fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	pid := ns.ChildPID(t)
	if out, err := jcmd(t, pid, "JDK.checkpoint"); err != nil {
		t.Fatalf("jcmd JDK.checkpoint: %v %q (the reply precedes the dump, so it succeeds)", err, out)
	}
	waitFor(t, "the failure on the JVM's stdout", 20*time.Second, func() bool {
		return strings.Contains(ns.Stdout.String(), "CRaC engine failed to checkpoint")
	})
	if log := readFile(t, filepath.Join(img, "dump4.log")); !strings.Contains(log, "Error") {
		t.Errorf("dump4.log has no error:\n%s", log)
	}
	if got := get(t, port, "/count"); got != "2" {
		t.Errorf("count after failed dump = %q, want 2", got)
	}
	if out, err := jcmd(t, pid, "VM.version"); err != nil {
		t.Errorf("attach after failed dump: %v %q", err, out)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	if st := ns.Wait(t, 10*time.Second); st != "exit 143" {
		t.Errorf("JVM after SIGTERM: %q, want exit 143", st)
	}
}

// TestDumpFailureExits: a current build takes the engine's -1 as restore
// data and exits 1 with "Restore cannot continue, VM will exit."
// (openjdk/crac crac.cpp VM_Crac::doit).
func TestDumpFailureExits(t *testing.T) {
	requireCRIU(t)
	requireJcmd(t)
	home := Layout(t, CRaC)
	port, base := freePort(t), PIDBase()
	img := filepath.Join(t.TempDir(), "img")
	ns := StartNS(t, home, base, append(criuPathEnv(t), "FAKE_DUMP_FAIL=1"), t.TempDir(),
		filepath.Join(home, "bin", "java"), "-XX:CRaCCheckpointTo="+img, fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	if out, err := jcmd(t, ns.ChildPID(t), "JDK.checkpoint"); err != nil {
		t.Fatalf("jcmd JDK.checkpoint: %v %q", err, out)
	}
	if st := ns.Wait(t, 20*time.Second); st != "exit 1" || !strings.Contains(ns.Stdout.String(), "Restore cannot continue, VM will exit.") {
		t.Fatalf("JVM ended with %q, stdout:\n%s", st, ns.Stdout)
	}
}

// TestEngineFailsBeforeCRIU: no criu to be found: the engine fails before
// CRIU could open dump4.log, the JVM says so and runs on.
func TestEngineFailsBeforeCRIU(t *testing.T) {
	requireJcmd(t)
	RequireNamespaces(t)
	home := Layout(t, CRaC)
	port, base := freePort(t), PIDBase()
	img := filepath.Join(t.TempDir(), "img")
	ns := StartNS(t, home, base, []string{"PATH=/usr/bin:/bin"}, t.TempDir(),
		filepath.Join(home, "bin", "java"), "-XX:CRaCCheckpointTo="+img, fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	pid := ns.ChildPID(t)
	if out, err := jcmd(t, pid, "JDK.checkpoint"); err != nil {
		t.Fatalf("jcmd JDK.checkpoint: %v %q (the reply precedes the engine)", err, out)
	}
	waitFor(t, "the engine failure", 10*time.Second, func() bool {
		return strings.Contains(ns.Stdout.String(), "CRaC engine failed to checkpoint") && strings.Contains(ns.Stderr.String(), "Cannot find CRIU")
	})
	if _, err := os.Stat(filepath.Join(img, "dump4.log")); err == nil {
		t.Error("dump4.log exists: CRIU ran")
	}
	if got := get(t, port, "/count"); got != "2" {
		t.Errorf("count after the failure = %q, want 2: the JVM runs on", got)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	ns.Wait(t, 10*time.Second)
}

// TestDoubleBuilds: PrintFlagsFinal shows each build's default engine; a
// static JDK maps no libjvm.so; CRaCMinPid leaves the launcher as a wrapper
// whose child is the JVM.
func TestDoubleBuilds(t *testing.T) {
	for flavour, want := range map[string]string{CRaC: "criuengine", WarpDefault: "warp"} {
		cmd := execCommand(filepath.Join(Layout(t, flavour), "bin", "java"), nil, "-XX:+PrintFlagsFinal", "-version")
		out, err := cmd.Output()
		if err != nil || !regexp.MustCompile(`ccstr CRaCEngine +=  *`+want+` `).Match(out) {
			t.Errorf("%s: PrintFlagsFinal %v:\n%s", flavour, err, out)
		}
	}
	static := Layout(t, CRaCStatic)
	cmd, _, _ := startJVM(t, static, nil, "-Dfake.port=0")
	if maps := readFile(t, fmt.Sprintf("/proc/%d/maps", cmd.Process.Pid)); strings.Contains(maps, "libjvm.so") {
		t.Errorf("a static JDK maps libjvm.so")
	}
	RequireNamespaces(t)
	home := Layout(t, CRaC)
	port, base := freePort(t), PIDBase()
	ns := StartNS(t, home, base, nil, t.TempDir(), filepath.Join(home, "bin", "java"),
		"-XX:CRaCCheckpointTo="+filepath.Join(t.TempDir(), "img"), fmt.Sprintf("-XX:CRaCMinPid=%d", base+500), fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	wrapper := ns.ChildPID(t)
	c := linux.Children(wrapper)
	if len(c) != 1 {
		t.Fatalf("the CRaCMinPid wrapper has children %v, want the JVM", c)
	}
	if got, _ := strconv.Atoi(get(t, port, "/pid")); got <= base+500 {
		t.Errorf("the JVM has pid %d, want above CRaCMinPid=%d", got, base+500)
	}
	syscall.Kill(wrapper, syscall.SIGTERM)
	if st := ns.Wait(t, 10*time.Second); st != "exit 143" {
		t.Errorf("the wrapper ended with %q, want the JVM's exit 143", st)
	}
}

// TestCRIUOptsReachTheDump: CRaC's engine appends CRAC_CRIU_OPTS to its
// `criu dump` (openjdk/crac src/java.base/unix/native/criuengine/
// criuengine.cpp checkpoint(); the current library engine too, in
// ArgsBuilder::append_all), so an option CRIU does not know fails the dump.
func TestCRIUOptsReachTheDump(t *testing.T) {
	requireCRIU(t)
	requireJcmd(t)
	home := Layout(t, CRaCLegacy) // runs on after a failed dump
	port, base := freePort(t), PIDBase()
	img := filepath.Join(t.TempDir(), "img")
	ns := StartNS(t, home, base, []string{"CRAC_CRIU_OPTS=--no-such-criu-option"}, t.TempDir(),
		filepath.Join(home, "bin", "java"), "-XX:CRaCCheckpointTo="+img, fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	pid := ns.ChildPID(t)
	if out, err := jcmd(t, pid, "JDK.checkpoint"); err != nil {
		t.Fatalf("jcmd JDK.checkpoint: %v %q", err, out)
	}
	waitFor(t, "the failure on the JVM's stdout", 20*time.Second, func() bool {
		return strings.Contains(ns.Stdout.String(), "CRaC engine failed to checkpoint")
	})
	syscall.Kill(pid, syscall.SIGTERM)
	ns.Wait(t, 10*time.Second)
}
