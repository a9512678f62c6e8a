package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// Polling for the socket starts fast, since a JVM that is up answers in a
// few milliseconds, and backs off like the JDK client does.
const (
	firstPoll = 2 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// awaitSocket returns the JVM's attach socket, starting the attach listener
// first if needed. The listener starts lazily: HotSpot's SIGQUIT handler
// looks for .attach_pid<nspid> in its cwd, then in /tmp, owned by its euid
// (or root), and if found binds /tmp/.java_pid<nspid> instead of printing a
// thread dump. With -Xrs the listener starts at JVM start-up instead.
func awaitSocket(ctx context.Context, t target, timeout time.Duration, log *slog.Logger) (string, error) {
	sock := t.socketPath()
	if isSocket(sock) {
		return sock, nil
	}
	trigger, err := createTrigger(t, log)
	if err != nil {
		return "", err
	}
	defer trigger.remove(log)
	log.Debug("attach listener not running; triggering it", "trigger", trigger.path)
	return pollSocket(ctx, t, sock, timeout, log)
}

// pollSocket sends SIGQUIT and waits for the socket. Like the JDK client
// (VirtualMachineImpl.checkCatchesAndSendQuitTo) it signals only a process
// whose SIGQUIT handler is installed: a JVM early in start-up has none yet,
// and the default action would kill it with a core dump. Such a JVM is
// waited for until its handler appears or the timeout ends. SIGQUIT is sent
// once more at half the timeout, as the JDK client does, in case the first
// arrived while the handler was being installed.
func pollSocket(ctx context.Context, t target, sock string, timeout time.Duration, log *slog.Logger) (string, error) {
	start := time.Now()
	signals := 0
	for delay := firstPoll; ; delay = min(2*delay, maxPoll) {
		if isSocket(sock) {
			log.Debug("attach socket appeared", "socket", sock, "after", time.Since(start), "sigquits", signals)
			return sock, nil
		}
		if signals == 0 || (signals == 1 && time.Since(start) > timeout/2) {
			sent, err := sendQuit(t, log)
			if err != nil {
				return "", err
			}
			if sent {
				signals++
			}
		}
		if !sleepCtx(ctx, delay) {
			break
		}
	}
	if signals == 0 {
		return "", timeoutError(ctx, timeout, "pid %d did not install its SIGQUIT handler (a JVM still starting, or -Xrs)", t.pid)
	}
	if t.noVMLib {
		return "", timeoutError(ctx, timeout, "pid %d did not open its attach socket %s (it maps no libjvm.so: if it is not a static JDK, it may be no JVM)", t.pid, sock)
	}
	return "", timeoutError(ctx, timeout, "pid %d did not open its attach socket %s", t.pid, sock)
}

// sendQuit signals the JVM if it catches SIGQUIT, and reports whether it did.
func sendQuit(t target, log *slog.Logger) (bool, error) {
	data, err := os.ReadFile(t.procPath("status"))
	if err != nil {
		return false, NewError(ErrNoProcess, "pid %d exited while attaching", t.pid)
	}
	st, err := parseStatus(data, t.pid)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", t.procPath("status"), err)
	}
	if st.state == 'Z' || st.state == 'X' {
		return false, NewError(ErrNoProcess, "pid %d exited while attaching", t.pid)
	}
	if !st.catchesQuit {
		log.Debug("no SIGQUIT handler yet; waiting")
		return false, nil
	}
	if err := unix.Kill(t.pid, unix.SIGQUIT); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, NewError(ErrNoProcess, "pid %d exited while attaching", t.pid)
		}
		return false, fmt.Errorf("send SIGQUIT to pid %d: %w", t.pid, err)
	}
	log.Debug("sent SIGQUIT")
	return true, nil
}

// A trigger is the .attach_pid file of one handshake and a descriptor of
// the directory it was created in: /proc/PID/cwd stops resolving when the
// JVM exits, even during the handshake, but the directory stays, and the
// file must go with the handshake.
type trigger struct {
	dir  int // O_PATH
	name string
	path string // for messages
}

// createTrigger creates .attach_pid<nspid> in the JVM's working directory,
// or in its /tmp when the working directory is not writable (a read-only
// root file system). HotSpot ignores a trigger not owned by its euid or
// root, so a root stasis gives the file to the JVM's user, as jcmd run as
// that user would have created it.
func createTrigger(t target, log *slog.Logger) (*trigger, error) {
	name := ".attach_pid" + strconv.Itoa(t.nspid)
	var errs []error
	for _, dir := range []string{t.procPath("cwd"), t.procPath("root", "tmp")} {
		tr, err := createIn(dir, name, t, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return tr, nil
	}
	return nil, fmt.Errorf("create attach trigger for pid %d: %w", t.pid, errors.Join(errs...))
}

func createIn(dir, name string, t target, log *slog.Logger) (*trigger, error) {
	dfd, err := linux.Retry2("open", func() (int, error) {
		return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	tr := &trigger{dir: dfd, name: name, path: filepath.Join(dir, name)}
	fd, err := linux.Retry2("openat", func() (int, error) {
		return unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		unix.Close(dfd)
		return nil, fmt.Errorf("%s: %w", tr.path, err)
	}
	if unix.Geteuid() == 0 && t.euid != 0 {
		if err := unix.Fchown(fd, t.euid, t.egid); err != nil {
			log.Debug("chown attach trigger", "path", tr.path, "err", err)
		}
	}
	unix.Close(fd)
	return tr, nil
}

// remove deletes the trigger: a stale one would make a later SIGQUIT (a
// user's thread-dump request) restart the listener instead.
func (tr *trigger) remove(log *slog.Logger) {
	err := linux.Retry("unlinkat", func() error { return unix.Unlinkat(tr.dir, tr.name, 0) })
	unix.Close(tr.dir)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		log.Warn("remove attach trigger", "path", tr.path, "err", err)
	}
}
