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

// TestFIFOPausedDataPrintedAfterDump plays the engine's part around a dump, without CRIU: a child
// writes numbered lines as fast as it can; stasis pauses, the child is frozen and killed (as
// criu dump does), stasis resumes and closes. CRIU saves nothing of a FIFO the tree holds only for
// writing (TestCRIUDumpRestoreThroughFIFOs checks that with the real criu), so whatever sat in the
// FIFO must be printed now, each line exactly once.
func TestFIFOPausedDataPrintedAfterDump(t *testing.T) {
	var out, errw collector
	s := fifoSet(t, t.TempDir(), &out, &errw)
	cmd := exec.Command("sh", "-c", `i=0; while :; do echo "line $i"; i=$((i+1)); done`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin(), s.Stdout(), s.Stderr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseChildEnds()
	waitFor(t, "some lines", func() bool { return strings.Count(out.String(), "\n") > 500 })
	s.Pause()
	// The child writes on into the FIFO meanwhile, and a partial line read before the pause is
	// flushed by the idle timer (not a read), so it cannot be mistaken for one below.
	time.Sleep(3 * IdleFlush)
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	held, err := pending(s.out.r)
	if err != nil || held == 0 {
		t.Fatalf("nothing sits in the paused FIFO (%d, %v): the test exercises nothing", held, err)
	}
	printed := len(out.String())
	time.Sleep(20 * time.Millisecond)
	if len(out.String()) != printed {
		t.Fatal("a paused set forwarded output")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	s.Resume()
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	all := out.String()
	checkNumbered(t, fmt.Sprintf("output (%d bytes sat in the FIFO)", held), all, "line", lastNumber(t, all)+1)
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
