//go:build linux

package stdio

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// collector is a destination that records every Write separately.
type collector struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes [][]byte
}

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// waitFor polls until cond holds; the limit only bounds a broken run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// run starts sh -c script with the set's ends and waits for it (no reaper runs in tests).
func run(t *testing.T, s *Set, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin(), s.Stdout(), s.Stderr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", script, err)
	}
	if err := s.CloseChildEnds(); err != nil {
		t.Fatalf("close child ends: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run %q: %v", script, err)
	}
}

const numbered = `i=0; while [ $i -lt $1 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`

func TestNumberedLinesTapAndTail(t *testing.T) {
	var out, errw collector
	var mu sync.Mutex
	tapped := map[string][]string{}
	opt := Options{Stdout: &out, Stderr: &errw, TailLines: 5, Tap: func(stream, line string) {
		mu.Lock()
		tapped[stream] = append(tapped[stream], line)
		mu.Unlock()
	}}
	s := pipeSet(t, opt)
	const n = 3000
	run(t, s, numbered, strconv.Itoa(n))
	if err := s.Close(2 * time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	checkNumbered(t, "stdout", out.String(), "out", n)
	checkNumbered(t, "stderr", errw.String(), "err", n)
	for _, c := range []*collector{&out, &errw} {
		for _, w := range c.writes {
			if w[len(w)-1] != '\n' {
				t.Fatalf("write %q does not end a line", w)
			}
		}
	}
	for stream, prefix := range map[string]string{"stdout": "out", "stderr": "err"} {
		checkNumbered(t, "tap "+stream, strings.Join(tapped[stream], "\n")+"\n", prefix, n)
	}
	checkTail(t, s.Tail(), 5, n)
}

// checkTail wants k lines, and for each stream the lines it has in the tail to be its last ones.
func checkTail(t *testing.T, tail []string, k, n int) {
	t.Helper()
	if len(tail) != k {
		t.Fatalf("tail has %d lines, want %d: %q", len(tail), k, tail)
	}
	for _, prefix := range []string{"out", "err"} {
		var mine []string
		for _, l := range tail {
			if strings.HasPrefix(l, prefix+" ") {
				mine = append(mine, l)
			}
		}
		for i, l := range mine {
			if want := fmt.Sprintf("%s %d", prefix, n-len(mine)+i); l != want {
				t.Fatalf("tail %q: %q is not among the last lines of its stream (want %q)", tail, l, want)
			}
		}
	}
}

func pipeSet(t *testing.T, opt Options) *Set {
	t.Helper()
	s, err := Pipes(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkNumbered wants exactly the lines "PREFIX 0" … "PREFIX n-1", in order.
func checkNumbered(t *testing.T, what, got, prefix string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%s: %d lines, want %d", what, len(lines), n)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("%s %d", prefix, i); l != want {
			t.Fatalf("%s: line %d is %q, want %q", what, i, l, want)
		}
	}
}

func TestBinaryPassthroughAndPartialLastLine(t *testing.T) {
	data := make([]byte, 1<<20+17)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	copy(data[1000:], bytes.Repeat([]byte("x"), 3*MaxLine)) // a line longer than MaxLine
	data[len(data)-1] = 'p'                                 // no newline at the end
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errw collector
	s := pipeSet(t, Options{Stdout: &out, Stderr: &errw})
	run(t, s, `cat "$1"; cat "$1" >&2`, file)
	if err := s.Close(2 * time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !bytes.Equal(out.buf.Bytes(), data) || !bytes.Equal(errw.buf.Bytes(), data) {
		t.Fatalf("output differs: stdout %d bytes, stderr %d bytes, want %d", out.buf.Len(), errw.buf.Len(), len(data))
	}
}

func TestLongLineAndTapCut(t *testing.T) {
	var out collector
	var tapped []string
	s, err := Pipes(Options{Stdout: &out, Stderr: &out, Tap: func(_, l string) { tapped = append(tapped, l) }})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("y", 5*MaxLine+3)
	if _, err := s.Stdout().WriteString(long + "\nshort\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if out.String() != long+"\nshort\n" {
		t.Fatalf("long line altered: got %d bytes", len(out.String()))
	}
	for _, w := range out.writes {
		if len(w) > 2*MaxLine {
			t.Fatalf("a write of %d bytes: long lines should pass in pieces", len(w))
		}
	}
	if len(tapped) != 2 || tapped[0] != long[:MaxLine] || tapped[1] != "short" {
		t.Fatalf("tap saw %d lines (first %d bytes)", len(tapped), len(tapped[0]))
	}
}

func TestPartialLineFlushedWhenIdle(t *testing.T) {
	var out collector
	s, err := Pipes(Options{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(time.Second)
	// Two quick pieces of one line arrive as one write, whole.
	if _, err := s.Stdout().WriteString("ab"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stdout().WriteString("c\nprompt> "); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prompt", func() bool { return out.String() == "abc\nprompt> " })
	out.mu.Lock()
	defer out.mu.Unlock()
	if string(out.writes[0]) != "abc\n" && len(out.writes) > 0 {
		t.Logf("note: the pieces were split by the idle flush (slow machine): %q", out.writes)
	}
}

func TestStdinIsDevNullAndNoFDLeaks(t *testing.T) {
	var out, errw collector
	s := pipeSet(t, Options{Stdout: &out, Stderr: &errw})
	for _, f := range []*os.File{s.Stdin(), s.Stdout(), s.Stderr(), s.out.r, s.err.r} {
		checkCloexec(t, f)
	}
	run(t, s, `readlink /proc/$$/fd/0; [ -t 0 ] && echo tty || echo notty; cat; echo eof; ls /proc/$$/fd; true`)
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "/dev/null\nnotty\neof\n0\n1\n2\n"; got != want {
		t.Fatalf("child saw %q, want %q (stderr %q)", got, want, errw.String())
	}
}

func checkCloexec(t *testing.T, f *os.File) {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	_ = rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0) })
	if ferr != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("%s: FD_CLOEXEC not set (flags %#x, %v)", f.Name(), flags, ferr)
	}
}

func TestOptionsNeedWriters(t *testing.T) {
	if _, err := Pipes(Options{Stdout: &collector{}}); err == nil {
		t.Fatal("Pipes without Stderr succeeded")
	}
}

// A partial line that follows a completed one waits a whole idle period of
// its own before it is flushed: the timer armed for the earlier piece must
// not cut it short (and a stasis log line could then land mid-line).
func TestIdleTimerRestartsAfterALineCompletes(t *testing.T) {
	var out collector
	w := newLineWriter("stdout", &out, nil, newTail(4))
	w.write([]byte("ab")) // arms the idle timer
	time.Sleep(IdleFlush * 7 / 10)
	w.write([]byte("c\nxy")) // completes "abc"; "xy" is a new partial line
	written := time.Now()
	waitFor(t, "the partial line", func() bool { return out.String() == "abc\nxy" })
	if el := time.Since(written); el < IdleFlush/2 {
		t.Fatalf("the partial line was flushed %v after it was written, before its own idle period (%v)", el, IdleFlush)
	}
}

// blockedWriter blocks every Write until release is closed.
type blockedWriter struct{ release chan struct{} }

func (b *blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

// TestCloseReturnsWhileTheDestinationIsBlocked: Close returns by its
// deadline when stasis's own stdout does not take the child's output, so a
// stop is never held up by it.
func TestCloseReturnsWhileTheDestinationIsBlocked(t *testing.T) {
	dst := &blockedWriter{release: make(chan struct{})}
	defer close(dst.release)
	s := pipeSet(t, Options{Stdout: dst, Stderr: dst})
	run(t, s, numbered, "100")
	start := time.Now()
	err := s.Close(500 * time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Close took %v with a 500 ms drain timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "still busy") {
		t.Fatalf("Close did not say the destination was blocked: %v", err)
	}
}
