//go:build linux

package stdio

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"stasis/internal/linux"
)

// findCRIU returns a criu of major version 4 or later, or skips.
func findCRIU(t *testing.T) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("criu dump and restore need root")
	}
	for _, c := range []string{"/usr/local/lib/stasis-criu/criu", "criu"} {
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		out, err := exec.Command(path, "--version").CombinedOutput()
		m := regexp.MustCompile(`Version: (\d+)\.`).FindSubmatch(out)
		if err == nil && m != nil && string(m[1]) >= "4" && len(m[1]) == 1 || m != nil && len(m[1]) > 1 {
			return path
		}
	}
	t.Skip("no criu >= 4 (scripts/install-criu installs one)")
	return ""
}

// TestCRIUDumpRestoreThroughPipes checkpoints a shell loop that prints numbered lines into the
// pipes of a Set and restores it with a new Set, the way the engines do: Pause before `criu
// dump`, Resume after it, and at restore the new pipes' write ends passed to criu as fds 3 and 4
// with `--inherit-fd fd[N]:pipe:[OLD INODE]`. CRIU saves no data for a pipe the tree holds only
// the write end of (checkpoint-restore/criu criu/pipes.c, dump_one_pipe_data() returns early for
// O_WRONLY), and restores none into an inherited one (open_pipe() only reopens it), so what sat
// in the pipe at the dump is the checkpoint run's to print. Every number must appear exactly once
// across both runs, and the restored loop must write into the new pipes.
func TestCRIUDumpRestoreThroughPipes(t *testing.T) {
	criu := findCRIU(t)
	const n = 200
	dir := t.TempDir()
	var out1, err1 collector
	s, err := Pipes(Options{Stdout: &out1, Stderr: &err1})
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := s.PipeInodes()
	// The loop is PID 1 of its own PID namespace and session, like the JVM under stasis; the
	// sleep lets the dump happen mid-loop.
	loop := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); sleep 0.01; done`, n)
	cmd := exec.Command("unshare", "--pid", "--fork", "setsid", "sh", "-c", loop)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin(), s.Stdout(), s.Stderr()
	if err := cmd.Start(); err != nil {
		t.Skipf("start unshare: %v", err)
	}
	_ = s.CloseChildEnds()
	defer cmd.Process.Kill()
	waitFor(t, "the first lines", func() bool { return strings.Count(out1.String(), "\n") >= 30 })
	pid := loopPID(t, cmd.Process.Pid)

	s.Pause()
	dump := exec.Command(criu, "dump", "-t", fmt.Sprint(pid), "-D", dir, "--shell-job", "-v4", "-o", "dump.log")
	if b, err := dump.CombinedOutput(); err != nil {
		s.Resume()
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("criu dump: %v: %s\n%s", err, b, tailOf(log))
	}
	s.Resume()
	_ = cmd.Wait()
	if err := s.Close(time.Second); err != nil {
		t.Fatal(err)
	}

	var out2, err2 collector
	r, err := Pipes(Options{Stdout: &out2, Stderr: &err2})
	if err != nil {
		t.Fatal(err)
	}
	restore := exec.Command(criu, "restore", "-D", dir, "--shell-job", "-v4", "-o", "restore.log",
		"--inherit-fd", fmt.Sprintf("fd[3]:pipe:[%d]", oldOut), "--inherit-fd", fmt.Sprintf("fd[4]:pipe:[%d]", oldErr))
	restore.ExtraFiles = []*os.File{r.Stdout(), r.Stderr()}
	if b, err := restore.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("criu restore: %v: %s\n%s", err, b, tailOf(log))
	}
	if err := r.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("checkpoint run printed %d lines, restore run %d", strings.Count(out1.String(), "\n"), strings.Count(out2.String(), "\n"))
	checkNumbered(t, "stdout of both runs", out1.String()+out2.String(), "line", n)
	checkNumbered(t, "stderr of both runs", dropUnshare(err1.String()+err2.String()), "err", n)
	if out2.String() == "" || err2.String() == "" {
		t.Fatal("the restore run printed nothing into the new pipes")
	}
}

// loopPID is the host PID of the namespace's PID 1, the child of unshare.
func loopPID(t *testing.T, unsharePID int) int {
	t.Helper()
	var pid int
	waitFor(t, "unshare's child", func() bool {
		c := linux.Children(unsharePID)
		if len(c) == 0 {
			return false
		}
		pid = c[0]
		return true
	})
	return pid
}

func tailOf(b []byte) string {
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// dropUnshare removes unshare's own complaint when its child is killed by the dump: unshare
// writes to the same stderr.
func dropUnshare(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "unshare: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
