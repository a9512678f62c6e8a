package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// runCRIUHelper is CRaC's helper executable: lib/criuhelper in current
// builds, lib/criuengine (the executable engine itself) in legacy ones. CRIU
// runs it as the restore's action script (CRTOOLS_SCRIPT_ACTION set) and,
// through --exec-cmd, as `criuhelper restorewait` in place of CRIU once the
// restore is done (openjdk/crac src/java.base/unix/native/criuengine/
// criuengine.cpp main(), and the current src/java.base/linux/native/
// libcriuengine/criuhelper.c that took over that
// part).
func runCRIUHelper(args []string) int {
	if len(args) > 0 && args[0] == "restorewait" {
		return restoreWaitHelper()
	}
	if action := os.Getenv("CRTOOLS_SCRIPT_ACTION"); action != "" {
		if action == "post-resume" {
			return postResume()
		}
		return 0 // other notifications are ignored
	}
	fmt.Fprintln(os.Stderr, "unknown context")
	return 1
}

// helperSignals is registered in init, as early as a Go program can: the
// real restorewait (C) has its handlers from its first instruction, while
// the Go runtime installs its own at start-up and would let a SIGTERM that
// arrives before Notify end the process. The window left is the runtime's
// start-up, microseconds.
var helperSignals chan os.Signal

func init() {
	switch filepath.Base(os.Args[0]) {
	case "criuhelper", "criuengine":
		if len(os.Args) > 1 && os.Args[1] == "restorewait" {
			helperSignals = make(chan os.Signal, 32)
			signal.Notify(helperSignals, forwardedSignals()...)
		}
	}
}

// postResume kicks the restored JVM (CRTOOLS_INIT_PID) with RESTORE_SIGNAL
// (criuhelper.c post_resume, kickjvm; the executable criuengine.cpp alike).
func postResume() int {
	pid, err := strconv.Atoi(os.Getenv("CRTOOLS_INIT_PID"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot find CRTOOLS_INIT_PID env")
		return 1
	}
	if err := unix.Kill(pid, sigRestore); err != nil {
		fmt.Fprintf(os.Stderr, "sigqueue: %v\n", err)
		return 1
	}
	return 0
}

// restoreWaitHelper is restorewait: forward signals 1-31 but KILL and STOP
// to the restored JVM (CRTOOLS_INIT_PID, its child: CRIU forked it before
// exec'ing this), wait for it, and leave with its exit status or re-raise
// the signal that killed it (criuhelper.c restorewait).
func restoreWaitHelper() int {
	pid, err := strconv.Atoi(os.Getenv("CRTOOLS_INIT_PID"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "no CRTOOLS_INIT_PID: signals may not be delivered")
		pid = -1
	}
	sigs := helperSignals
	// CRIU execs this with signals blocked; restorewait unblocks them all.
	unblockAll()
	go func() {
		for s := range sigs {
			if pid > 0 {
				unix.Kill(pid, s.(syscall.Signal))
			}
		}
	}()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "waitpid: %v\n", err)
			return 1
		}
		break
	}
	signal.Stop(sigs)
	if ws.Signaled() {
		dieBySignal(ws.Signal())
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// unblockAll clears the calling thread's signal mask: CRIU runs the
// --exec-cmd with signals blocked (measured with criu 4.2.1: without this no
// signal reached the double's restorewait), and restorewait unblocks them
// all (criuhelper.c restorewait: sigprocmask(SIG_UNBLOCK, allset)).
func unblockAll() {
	var none unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil)
}
