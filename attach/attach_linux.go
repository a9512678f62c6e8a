package attach

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// target is what /proc says about the JVM before any signal is sent.
type target struct {
	pid int
	procStatus
	// noVMLib: no libjvm.so is mapped (a static JDK, whose VM is linked
	// into bin/java, or a deleted library): used only to word errors.
	noVMLib bool
}

// procPath names a file of the target as seen from our namespaces.
func (t target) procPath(elem ...string) string {
	return filepath.Join(append([]string{"/proc", strconv.Itoa(t.pid)}, elem...)...)
}

// socketPath is HotSpot's socket /tmp/.java_pid<nspid> (always /tmp, never
// java.io.tmpdir) in the JVM's own mount namespace, reached through
// /proc/PID/root so that a private /tmp in a container works too.
func (t target) socketPath() string {
	return t.procPath("root", "tmp", ".java_pid"+strconv.Itoa(t.nspid))
}

func execute(ctx context.Context, pid int, req []byte, opt Options) ([]byte, error) {
	t, err := inspect(pid)
	if err != nil {
		return nil, err
	}
	log := opt.Log.With("pid", pid, "nspid", t.nspid)
	sock, err := awaitSocket(ctx, t, opt.Timeout, log)
	if err != nil {
		return nil, err
	}
	conn, err := dial(ctx, t, sock, opt.Timeout)
	if errors.Is(err, unix.ECONNREFUSED) {
		// A socket file that nobody listens on: left by a JVM that had the
		// same namespace PID and died by SIGKILL, which skips HotSpot's
		// cleanup. HotSpot unlinks the path itself when it binds, so removing
		// it and doing the handshake is what the JVM would do anyway.
		log.Debug("stale attach socket; removing it and triggering the listener", "socket", sock)
		if rmErr := os.Remove(sock); rmErr == nil || errors.Is(rmErr, fs.ErrNotExist) {
			if sock, err = awaitSocket(ctx, t, opt.Timeout, log); err == nil {
				conn, err = dial(ctx, t, sock, opt.Timeout)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return exchange(ctx, t, conn, req, opt.Timeout)
}

// inspect checks, before anything is sent to pid, that it is a live HotSpot
// JVM that we may attach to. SIGQUIT kills most processes that are not JVMs,
// so this check must come first.
func inspect(pid int) (target, error) {
	t := target{pid: pid}
	if pid <= 0 {
		return t, NewError(ErrNoProcess, "%d is not a process id", pid)
	}
	data, err := os.ReadFile(t.procPath("status"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return t, NewError(ErrNoProcess, "no process with pid %d", pid)
	}
	if err != nil {
		return t, fmt.Errorf("read %s: %w", t.procPath("status"), err)
	}
	if t.procStatus, err = parseStatus(data, pid); err != nil {
		return t, fmt.Errorf("read %s: %w", t.procPath("status"), err)
	}
	if t.state == 'Z' || t.state == 'X' {
		return t, NewError(ErrNoProcess, "pid %d has exited", pid)
	}
	if me := unix.Geteuid(); me != 0 && (me != t.euid || unix.Getegid() != t.egid) {
		return t, NewError(ErrPermission, "pid %d runs as uid %d gid %d and stasis as uid %d gid %d: only root can attach to another user's JVM",
			pid, t.euid, t.egid, me, unix.Getegid())
	}
	if err := checkHotSpot(&t); err != nil {
		return t, err
	}
	return t, checkEnabled(t)
}

// checkHotSpot refuses only what cannot be a HotSpot attach: an OpenJ9 JVM
// (its own attach mechanism), and a process without libjvm.so that has no
// SIGQUIT handler either (SIGQUIT would kill it). Any other process may
// complete the handshake: the JDK's own client has no library check
// (src/jdk.attach/linux/classes/sun/tools/attach/VirtualMachineImpl.java),
// a static JDK links the VM into bin/java, and a replaced JDK shows its
// library as "(deleted)".
func checkHotSpot(t *target) error {
	maps, err := os.ReadFile(t.procPath("maps"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return NewError(ErrNoProcess, "no process with pid %d", t.pid)
		}
		return fmt.Errorf("read %s: %w", t.procPath("maps"), err)
	}
	kind := classifyMaps(maps)
	if kind == notJVM && isOpenJ9AttachDir(t) {
		kind = openJ9
	}
	switch kind {
	case openJ9:
		return NewError(ErrOpenJ9, "pid %d is an OpenJ9 JVM: it uses OpenJ9's own attach mechanism, which stasis does not speak", t.pid)
	case notJVM:
		t.noVMLib = true
		if !t.catchesQuit {
			comm, _ := os.ReadFile(t.procPath("comm"))
			return NewError(ErrNotHotSpot, "pid %d (%s) is not a HotSpot JVM: no libjvm.so is mapped and it has no SIGQUIT handler", t.pid, trimNL(comm))
		}
	}
	return nil
}

// isOpenJ9AttachDir finds OpenJ9's attach directory for the pid: OpenJ9
// advertises itself in <tmp>/.com_ibm_tools_attach/<pid>/ instead of
// listening on .java_pid<pid>.
func isOpenJ9AttachDir(t *target) bool {
	_, err := os.Stat(t.procPath("root", "tmp", ".com_ibm_tools_attach", strconv.Itoa(t.nspid)))
	return err == nil
}

func checkEnabled(t target) error {
	cmdline, err := os.ReadFile(t.procPath("cmdline"))
	if err != nil {
		return fmt.Errorf("read %s: %w", t.procPath("cmdline"), err)
	}
	// environ may be unreadable (another user, hidepid); then only the
	// command line is consulted.
	environ, _ := os.ReadFile(t.procPath("environ"))
	if attachDisabled(cmdline, environValue(environ, "JAVA_TOOL_OPTIONS"), environValue(environ, "_JAVA_OPTIONS")) {
		return NewError(ErrAttachDisabled, "attach is disabled in pid %d (-XX:+DisableAttachMechanism)", t.pid)
	}
	return nil
}

func trimNL(b []byte) string {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return string(b)
}

func isSocket(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().Type() == fs.ModeSocket
}

// timeoutError names what did not happen in time.
func timeoutError(ctx context.Context, timeout time.Duration, format string, args ...any) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf(format+": %w", append(args, ctx.Err())...)
	}
	return NewError(ErrTimeout, format+" within %s", append(args, timeout)...)
}

// sleepCtx waits d or until ctx ends, and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
