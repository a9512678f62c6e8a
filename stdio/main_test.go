//go:build linux

package stdio

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a small stasis: see ptyHelper.
const helperEnv = "STDIO_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "pty" {
		os.Exit(ptyHelper())
	}
	// The test binary inherits descriptors from whatever ran it (go test, a shell, CI), which
	// would show up in the child's /proc/self/fd. stasis does the same at startup.
	if err := CloseInheritedOnExec(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// ptyHelper runs with a terminal as stdin, like stasis under `docker run -it`, and starts a
// child through Pipes that reports what its own stdin is.
func ptyHelper() int {
	if err := CloseInheritedOnExec(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		fmt.Println("helper stdin is a terminal")
	}
	s, err := Pipes(Options{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("sh", "-c", `readlink /proc/$$/fd/0; [ -t 0 ] && echo tty || echo notty; cat; echo eof; ls /proc/$$/fd; true`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin(), s.Stdout(), s.Stderr()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = s.CloseChildEnds()
	werr := cmd.Wait()
	if err := s.Close(time.Second); err != nil || werr != nil {
		fmt.Fprintln(os.Stderr, err, werr)
		return 1
	}
	return 0
}

// openPTY returns the master and slave of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return m, s
}

func TestStdinNotATerminalEvenWhenStasisHasOne(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	defer slave.Close()
	var out, errw bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=pty")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &out, &errw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper: %v: %s", err, errw.String())
	}
	want := "helper stdin is a terminal\n/dev/null\nnotty\neof\n0\n1\n2\n"
	if got := out.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCloseInheritedOnExec(t *testing.T) {
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY, 0) // deliberately without O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := CloseInheritedOnExec(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("fd %d: FD_CLOEXEC not set (flags %#x, %v)", fd, flags, err)
	}
	if err := cloexecFromProc(); err != nil { // the fallback for kernels before 5.11
		t.Fatal(err)
	}
}
