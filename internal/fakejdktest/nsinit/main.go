//go:build linux

// Command nsinit is a test harness, not a double of any runtime: the PID 1
// that internal/fakejdktest runs in a fresh PID namespace (under `unshare
// --pid --fork --mount-proc`). It becomes a session leader (CRIU needs the
// dumped tree's session leader inside the namespace), moves the next PID
// above FAKEJDK_INIT_LASTPID, runs its arguments as its child, forwards
// signals to it, reaps every orphan (CRaC's dumper lands here) until none is
// left, and writes the child's wait status to FAKEJDK_INIT_STATUS as
// "exit N" or "signal N".
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "nsinit: no command")
		return 2
	}
	// Descriptors leaked into the test process (by whatever ran it) would
	// reach the JVM and, opened in another mount namespace, break the dump.
	unix.CloseRange(3, ^uint(0), 0)
	unix.Setsid()
	if last := os.Getenv("FAKEJDK_INIT_LASTPID"); last != "" {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(last), 0); err != nil {
			fmt.Fprintf(os.Stderr, "nsinit: write ns_last_pid: %v\n", err)
			return 2
		}
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = withoutPrefix(os.Environ(), "FAKEJDK_")
	// stdin is /dev/null opened here: CRIU cannot dump a descriptor opened
	// in the parent's mount namespace ("Can't lookup mount").
	null, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsinit: %v\n", err)
		return 2
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nsinit: start %s: %v\n", args[0], err)
		return 2
	}
	pid := cmd.Process.Pid
	go func() {
		for s := range sigs {
			unix.Kill(pid, s.(syscall.Signal))
		}
	}()
	status := reapAll(pid)
	if p := os.Getenv("FAKEJDK_INIT_STATUS"); p != "" {
		os.WriteFile(p, []byte(status+"\n"), 0o644)
	}
	return 0
}

// reapAll reaps until the child exited and no process is left, or 20 s
// after the child exited.
func reapAll(child int) string {
	status := ""
	var deadline time.Time
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.ECHILD) || (status != "" && time.Now().After(deadline)) {
			return status
		}
		if wpid == child {
			status = fmt.Sprintf("exit %d", ws.ExitStatus())
			if ws.Signaled() {
				status = fmt.Sprintf("signal %d", int(ws.Signal()))
			}
			deadline = time.Now().Add(20 * time.Second)
		}
		if wpid <= 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func withoutPrefix(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}
