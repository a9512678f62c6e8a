package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runKid is the supervised child of the PID-1 tests: the test binary re-run
// with STASIS_TEST_KID naming a behaviour. Its exit status is what the test
// expects stasis to pass on.
func runKid(kind string, args []string) int {
	switch kind {
	case "exit":
		n, _ := strconv.Atoi(args[0])
		return n
	case "killself":
		// exec a shell so that the process that dies is stasis's own child and
		// dies with the default action (the Go runtime would turn SIGSEGV into a panic).
		err := syscall.Exec("/bin/sh", []string{"sh", "-c", "ulimit -c 0; kill -" + args[0] + " $$"}, os.Environ())
		fmt.Fprintln(os.Stderr, err)
		return 99
	case "record":
		return kidRecord(args[0], false)
	case "ignoreterm":
		return kidRecord(args[0], true)
	case "orphans":
		n, _ := strconv.Atoi(args[0])
		return kidOrphans(n)
	case "leave":
		return kidLeave(args[0])
	case "cat":
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return 98
		}
		os.Stdout.Write(b)
		os.Stderr.Write(b)
		return 0
	case "subreaper":
		return kidSubreaper()
	case "pgrpexec":
		return kidPgrpExec(args)
	}
	fmt.Fprintln(os.Stderr, "unknown kid", kind)
	return 97
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	f.WriteString(line + "\n")
	f.Close()
}

// kidRecord writes every signal it receives to path. It exits 0 on SIGTERM,
// or ignores SIGTERM when told to (the stop-timeout test).
func kidRecord(path string, ignoreTerm bool) int {
	c := make(chan os.Signal, 64)
	signal.Notify(c)
	appendLine(path, "ready")
	for s := range c {
		sig := s.(syscall.Signal)
		if sig == unix.SIGURG {
			continue // the Go runtime's own preemption signal
		}
		appendLine(path, unix.SignalName(sig))
		if sig == unix.SIGTERM && !ignoreTerm {
			return 0
		}
	}
	return 1
}

// kidOrphans has a shell start n short-lived background processes and exit at
// once, so they are orphaned to stasis, then waits until every one of them
// has disappeared from /proc: a zombie that nobody reaps stays there.
func kidOrphans(n int) int {
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do /bin/true & echo $!; i=$((i+1)); done`, n)
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		fmt.Println("shell:", err)
		return 1
	}
	pids := strings.Fields(string(out))
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		left := 0
		for _, p := range pids {
			if _, err := os.Stat("/proc/" + p); err == nil {
				left++
			}
		}
		if left == 0 {
			fmt.Printf("orphans reaped: %d\n", len(pids))
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("orphans still present after 20s (zombies nobody reaped)")
	return 1
}

// kidLeave starts two processes that outlive it, one that ends on SIGTERM and
// one that ignores it, and exits 7.
func kidLeave(path string) int {
	polite := exec.Command("/bin/sh", "-c", `trap "echo polite got SIGTERM >> `+path+`; exit 0" TERM; echo up >> `+path+`.p; while :; do sleep 0.05; done`)
	stubborn := exec.Command("/bin/sh", "-c", `trap "" TERM; echo up >> `+path+`.s; while :; do sleep 0.05; done`)
	for _, c := range []*exec.Cmd{polite, stubborn} {
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	for _, f := range []string{path + ".p", path + ".s"} {
		for i := 0; i < 2000; i++ {
			if _, err := os.Stat(f); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return 7
}

// kidSubreaper orphans a grandchild and checks that stasis, not PID 1 here,
// adopted it as a subreaper and reaped it.
func kidSubreaper() int {
	out, err := exec.Command("/bin/sh", "-c", `(sleep 0.5) >/dev/null 2>&1 & echo $!`).Output()
	if err != nil {
		fmt.Println("shell:", err)
		return 1
	}
	pid := strings.TrimSpace(string(out))
	ppid := readPPIDOf(pid)
	if ppid != os.Getppid() {
		fmt.Printf("orphan %s has parent %d, want stasis %d\n", pid, ppid, os.Getppid())
		return 1
	}
	for i := 0; i < 2000; i++ {
		if _, err := os.Stat("/proc/" + pid); err != nil {
			fmt.Println("orphan adopted by stasis and reaped")
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("orphan never reaped")
	return 1
}

func readPPIDOf(pid string) int {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}
