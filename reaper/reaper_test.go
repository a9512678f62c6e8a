package reaper

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests run in the test process itself: the reaper makes it a child
// subreaper, and nothing else in the test binary starts children.

func newReaper(t *testing.T) *Reaper {
	r, err := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestStartDeliversStatus(t *testing.T) {
	r := newReaper(t)
	for _, tc := range []struct {
		script string
		code   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$", 143}, {"kill -KILL $$", 137}} {
		p, err := r.Start(exec.Command("/bin/sh", "-c", tc.script))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, err := p.Wait(ctx)
		cancel()
		if err != nil || ExitCode(ws) != tc.code {
			t.Errorf("%s: status %v (%s), err %v; want %d", tc.script, ExitCode(ws), Describe(ws), err, tc.code)
		}
	}
}

func TestStartRefusesPipesThatNeedCmdWait(t *testing.T) {
	r := newReaper(t)
	cmd := exec.Command("/bin/true")
	cmd.Stdout = &bytes.Buffer{}
	if _, err := r.Start(cmd); err == nil {
		t.Fatal("a non-*os.File stdout needs exec.Cmd.Wait, which nobody may call")
	}
}

// An orphan's exit is remembered, so Adopt of a PID that has already exited
// (a CRIU-restored JVM that died before its pidfile was read) still gets the
// status.
func TestAdoptAfterExit(t *testing.T) {
	r := newReaper(t)
	// The shell starts a grandchild and exits; the grandchild is orphaned to
	// us (subreaper) and exits with 5.
	// The shell goes through the reaper too: with a reaper running, nobody
	// else may wait for a child, exec.Cmd.Output included.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("/bin/sh", "-c", `(sleep 0.1; exit 5) >/dev/null & echo $!`)
	sh.Stdout = pw
	shell, err := r.Start(sh)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	<-shell.Done()
	pid, err := strconv.Atoi(string(bytes.TrimSpace(out)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			break // reaped by the reaper as an orphan
		}
		time.Sleep(5 * time.Millisecond)
	}
	p := r.Adopt(pid)
	select {
	case <-p.Done():
		if ExitCode(p.Status()) != 5 {
			t.Fatalf("adopted status %s, want exit status 5", Describe(p.Status()))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Adopt did not deliver the remembered status")
	}
}

func TestSignalAfterReapIsProcessDone(t *testing.T) {
	r := newReaper(t)
	p, err := r.Start(exec.Command("/bin/true"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := p.Signal(unix.SIGTERM); err != os.ErrProcessDone {
		t.Fatalf("Signal after reap: %v, want os.ErrProcessDone (the PID may be reused)", err)
	}
	if r.HasChildren() {
		t.Fatal("HasChildren after the only child was reaped")
	}
}
