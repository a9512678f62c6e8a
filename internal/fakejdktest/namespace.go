package fakejdktest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"stasis/internal/linux"
)

// NS is a command running as the only child of nsinit, PID 1 of a
// fresh PID (and mount) namespace.
type NS struct {
	cmd    *exec.Cmd
	status string
	Stdout *Buffer
	Stderr *Buffer
}

// Buffer is a goroutine-safe output sink.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// PIDBase returns a random PID in [10000, 30000): the namespace's next
// process gets it, so that concurrent tests rarely share a PID and hence
// an attach socket in the shared /tmp.
func PIDBase() int { return 10000 + rand.IntN(20000) }

// RequireNamespaces skips the test unless it runs as root with unshare.
func RequireNamespaces(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("PID namespaces and CRIU need root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not found: " + err.Error())
	}
}

// StartNS runs argv in a new PID namespace whose init is nsinit, built
// beside home on first use. lastPID, when positive, is written to ns_last_pid first, so
// argv's process gets lastPID+1. stdio are pipes into NS.Stdout/Stderr.
func StartNS(t testing.TB, home string, lastPID int, env []string, dir string, argv ...string) *NS {
	t.Helper()
	status := filepath.Join(t.TempDir(), "status")
	if _, err := os.Stat(nsinitPath(home)); err != nil {
		if err := build(nsinitPath(home), "./internal/fakejdktest/nsinit"); err != nil {
			t.Fatalf("build the namespace init: %v", err)
		}
	}
	args := append([]string{"--pid", "--fork", "--mount-proc", nsinitPath(home)}, argv...)
	cmd := exec.Command("unshare", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "FAKEJDK_INIT_STATUS="+status)
	if lastPID > 0 {
		cmd.Env = append(cmd.Env, "FAKEJDK_INIT_LASTPID="+strconv.Itoa(lastPID))
	}
	ns := &NS{cmd: cmd, status: status, Stdout: &Buffer{}, Stderr: &Buffer{}}
	cmd.Stdout, cmd.Stderr = ns.Stdout, ns.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			if pid, err := ns.InitPID(); err == nil {
				syscallKill(pid)
			}
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return ns
}

// Wait waits for the namespace to end and returns the child's status as
// "exit N" or "signal N".
func (n *NS) Wait(t testing.TB, timeout time.Duration) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("namespace %v did not end within %v\nstdout:\n%s\nstderr:\n%s", n.cmd.Args, timeout, n.Stdout, n.Stderr)
	}
	b, err := os.ReadFile(n.status)
	if err != nil {
		t.Fatalf("namespace init left no status: %v\nstderr:\n%s", err, n.Stderr)
	}
	return strings.TrimSpace(string(b))
}

// InitPID is the host PID of the namespace's init (unshare's child).
func (n *NS) InitPID() (int, error) {
	return onlyChild(n.cmd.Process.Pid)
}

// ChildPID is the host PID of init's child, the process argv started.
func (n *NS) ChildPID(t testing.TB) int {
	t.Helper()
	init, err := n.InitPID()
	if err == nil {
		var child int
		child, err = onlyChild(init)
		if err == nil {
			return child
		}
	}
	t.Fatalf("find the namespace's first process: %v", err)
	return 0
}

// HostPID finds the host PID of the namespace's process nspid by walking
// down from the init.
func (n *NS) HostPID(nspid int) (int, error) {
	init, err := n.InitPID()
	if err != nil {
		return 0, err
	}
	queue := []int{init}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if last, err := nsPID(p); err == nil && last == nspid {
			return p, nil
		}
		queue = append(queue, linux.Children(p)...)
	}
	return 0, fmt.Errorf("no process with namespace pid %d under init %d", nspid, init)
}

// WaitHostPID retries HostPID until the process exists.
func (n *NS) WaitHostPID(t testing.TB, nspid int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pid, err := n.HostPID(nspid)
		if err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v\nstderr:\n%s", err, n.Stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func onlyChild(pid int) (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c := linux.Children(pid); len(c) > 0 {
			return c[0], nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("process %d has no child", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nsPID is the last NSpid field of /proc/PID/status: the PID in the
// innermost namespace.
func nsPID(pid int) (int, error) {
	st, err := linux.ReadStatus(pid)
	if err != nil {
		return 0, err
	}
	if st.NSpid == 0 {
		return 0, fmt.Errorf("no NSpid in /proc/%d/status", pid)
	}
	return st.NSpid, nil
}
