//go:build linux

package stdio

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func fifoSet(t *testing.T, dir string, out, errw *collector) *Set {
	t.Helper()
	s, err := FIFOs(dir, Options{Stdout: out, Stderr: errw})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFIFOsCreatedMode0600(t *testing.T) {
	dir := t.TempDir()
	s := fifoSet(t, dir, &collector{}, &collector{})
	defer s.Close(time.Second)
	for _, name := range []string{StdoutFIFO, StderrFIFO} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeNamedPipe || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, want a FIFO with 0600", name, fi.Mode())
		}
	}
	// A second set on the same directory reuses the FIFOs (the restore run does this).
	s2 := fifoSet(t, dir, &collector{}, &collector{})
	if err := s2.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	// Something that is not a FIFO is refused, not replaced.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, StdoutFIFO), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FIFOs(bad, Options{Stdout: &collector{}, Stderr: &collector{}}); err == nil {
		t.Fatal("FIFOs accepted a regular file as stdout.fifo")
	}
}

func TestFIFOPauseDiscardResume(t *testing.T) {
	var out, errw collector
	s := fifoSet(t, t.TempDir(), &out, &errw)
	w := s.Stdout()
	write := func(str string) {
		t.Helper()
		if _, err := w.WriteString(str); err != nil {
			t.Fatal(err)
		}
	}
	write("a\n")
	waitFor(t, "a", func() bool { return out.String() == "a\n" })

	s.Pause()
	write("b\nc\n")
	time.Sleep(100 * time.Millisecond) // give a wrongly running reader the chance to take it
	if n, err := pending(s.out.r); err != nil || n != 4 {
		t.Fatalf("paused: %d bytes in the FIFO (%v), want 4", n, err)
	}
	if out.String() != "a\n" {
		t.Fatalf("paused set forwarded %q", out.String())
	}
	s.Resume()
	waitFor(t, "b and c after resume", func() bool { return out.String() == "a\nb\nc\n" })

	// A partial line read before the pause is not in the FIFO and must survive Discard.
	write("part")
	waitFor(t, "the partial line", func() bool { return out.String() == "a\nb\nc\npart" })
	s.Pause()
	write("d\n")
	if err := s.Discard(); err != nil {
		t.Fatal(err)
	}
	if n, _ := pending(s.out.r); n != 0 {
		t.Fatalf("after Discard %d bytes remain", n)
	}
	s.Resume()
	write("e\n")
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a\nb\nc\nparte\n" {
		t.Fatalf("got %q", got)
	}
}

func TestFIFOCloseForwardsWhatIsLeft(t *testing.T) {
	var out, errw collector
	s := fifoSet(t, t.TempDir(), &out, &errw)
	s.Pause()
	if _, err := s.Stderr().WriteString("left\nover"); err != nil {
		t.Fatal(err)
	}
	// Close while paused, as after a failed dump: nothing is lost, and Close returns although
	// a FIFO never reports EOF.
	if err := s.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := errw.String(); got != "left\nover" {
		t.Fatalf("got %q", got)
	}
	if tail := s.Tail(); len(tail) != 2 || tail[1] != "over" {
		t.Fatalf("tail %q", tail)
	}
}

// peek copies what sits in the FIFO without consuming it, with tee(2): what `criu dump` does.
func peek(t *testing.T, path string) []byte {
	t.Helper()
	in, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 1<<20); err != nil {
		t.Fatal(err)
	}
	n, err := unix.Tee(in, p[1], 1<<20, unix.SPLICE_F_NONBLOCK)
	if err == unix.EAGAIN {
		return nil
	}
	if err != nil {
		t.Fatalf("tee: %v", err)
	}
	buf := make([]byte, n)
	if _, err := unix.Read(p[0], buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

// TestFIFOCheckpointProtocol plays the engine's part around a dump, without CRIU: a child writes
// numbered lines as fast as it can; stasis pauses, the child is frozen and killed (as criu dump
// does), the FIFO's content is copied the way CRIU copies it, stasis discards and closes. The
// "restore run" opens a new set, puts the copied data back into the FIFO (as criu restore does)
// and a new child continues the numbering. Every number must appear exactly once.
func TestFIFOCheckpointProtocol(t *testing.T) {
	dir := t.TempDir()
	var out1, err1 collector
	s := fifoSet(t, dir, &out1, &err1)
	cmd := exec.Command("sh", "-c", `i=0; while :; do echo "line $i"; i=$((i+1)); done`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin(), s.Stdout(), s.Stderr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseChildEnds()
	waitFor(t, "some lines", func() bool { return strings.Count(out1.String(), "\n") > 500 })
	s.Pause()
	time.Sleep(20 * time.Millisecond)       // the child writes on into the FIFO meanwhile
	_ = cmd.Process.Signal(syscall.SIGSTOP) // criu freezes the tree after stasis stopped reading
	time.Sleep(20 * time.Millisecond)
	image := peek(t, filepath.Join(dir, StdoutFIFO))
	if n, err := pending(s.out.r); err != nil || n != int64(len(image)) {
		t.Fatalf("the copy holds %d bytes but %d (%v) sit in the FIFO", len(image), n, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := s.Discard(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	first := out1.String() + string(image)
	last := lastNumber(t, first)

	var out2, err2 collector
	r := fifoSet(t, dir, &out2, &err2)
	if _, err := r.Stdout().Write(image); err != nil { // what criu restore puts back
		t.Fatal(err)
	}
	run(t, r, `i=$1; while [ $i -lt $(($1+300)) ]; do echo "line $i"; i=$((i+1)); done`, strconv.Itoa(last+1))
	if err := r.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	all := out1.String() + out2.String()
	checkNumbered(t, fmt.Sprintf("both runs (image held %d bytes)", len(image)), all, "line", last+301)
	if len(image) == 0 {
		t.Fatal("the child wrote nothing into the paused FIFO: the test did not exercise the image")
	}
}

// lastNumber finds the number of the last complete line "line N" (the child may have been
// killed in the middle of a line only if echo wrote in pieces, which dash does not).
func lastNumber(t *testing.T, s string) int {
	t.Helper()
	m := regexp.MustCompile(`line (\d+)\n$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("output does not end with a numbered line: %q", s[max(0, len(s)-100):])
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
