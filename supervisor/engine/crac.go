package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"stasis/reaper"
	"stasis/triggers/attach"
)

// CRaC is OpenJDK CRaC (Azul Zulu and others), and with Warp set, Azul's
// Warp engine: the JVM checkpoints itself when asked through the attach
// protocol (JDK.checkpoint) or by the application (org.crac).
type CRaC struct{ Warp bool }

func (e *CRaC) Name() string {
	if e.Warp {
		return "warp"
	}
	return "crac"
}

// Warp does not keep PIDs or thread IDs.
func (e *CRaC) PreservesPIDs() bool { return !e.Warp }

// The restoring `java -XX:CRaCRestoreFrom` hands its own fds 0-2 to the
// restored JVM, so pipes from stasis are the right stdio.
func (*CRaC) FIFOStdio() bool    { return false }
func (*CRaC) DumpLog() string    { return "dump4.log" }
func (*CRaC) RestoreLog() string { return "restore.log" }

func (e *CRaC) LaunchArgv(command []string, o Options) ([]string, error) {
	if err := requireJava(e.Name(), command); err != nil {
		return nil, err
	}
	return CRaCLaunchArgv(command, o, e.Warp), nil
}

// Checkpoint asks the JVM for JDK.checkpoint (unless the application
// checkpoints itself). The JVM answers success BEFORE the engine runs, so
// success is judged afterwards: the JVM died of SIGKILL, no helper of the
// dump is left, and the dump log shows no error.
func (e *CRaC) Checkpoint(ctx context.Context, j *CheckpointJob) error {
	if !j.AppTriggered {
		out, err := attach.JCmd(ctx, j.JVM.Pid, "JDK.checkpoint", attach.Options{Timeout: 30 * time.Second, Log: j.Log})
		if err != nil {
			return fmt.Errorf("JDK.checkpoint in pid %d: %w", j.JVM.Pid, err)
		}
		j.Log.Debug("JDK.checkpoint answered", "reply", strings.TrimSpace(out))
		if exc := refusal(out); exc != "" {
			return fmt.Errorf("the JVM (pid %d) refused the checkpoint and runs on:\n%s", j.JVM.Pid, exc)
		}
	}
	return awaitSelfDump(ctx, j, filepath.Join(j.Dir, e.DumpLog()), e.Name() != "warp")
}

// refusal returns the exception of a JDK.checkpoint reply, or "". CRaC
// answers a refused checkpoint (an open file or socket, a Resource that
// threw) with status 0 and "An exception during a checkpoint operation:"
// followed by the exception, and the JVM runs on: without this, stasis would
// wait for a dump that never comes until STASIS_CHECKPOINT_TIMEOUT.
func refusal(reply string) string {
	i := strings.Index(reply, "An exception during a checkpoint operation")
	if i < 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(reply[i:]), "\n")
	if len(lines) > 20 {
		lines = append(lines[:20], "\t...")
	}
	return strings.Join(lines, "\n")
}

// awaitSelfDump waits for a JVM that dumps itself (crac, warp, openj9):
// killed by SIGKILL after the dump, its log without error, and every helper
// process of the dump (reparented to stasis) reaped.
func awaitSelfDump(ctx context.Context, j *CheckpointJob, logPath string, criuLog bool) error {
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-j.JVM.Done():
			done = true
		case <-ctx.Done():
			return withTail(fmt.Errorf("the JVM (pid %d) is still running: no checkpoint happened in time", j.JVM.Pid), logPath, 10)
		case <-tick.C:
			if msg := logError(logPath); msg != "" {
				return withTail(fmt.Errorf("the dump failed and the JVM keeps running: %s", msg), logPath, 10)
			}
		}
	}
	ws := j.JVM.Status()
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return withTail(fmt.Errorf("the JVM %s instead of being killed by its dump (status 137)", reaper.Describe(ws)), logPath, 10)
	}
	if err := awaitNoChildren(ctx, j.Host); err != nil {
		return err
	}
	if msg := logError(logPath); msg != "" {
		return withTail(fmt.Errorf("the dump failed: %s", msg), logPath, 10)
	}
	if criuLog {
		if err := dumpSucceeded(filepath.Dir(logPath)); err != nil {
			return withTail(fmt.Errorf("the JVM died but %w", err), logPath, 10)
		}
	}
	return nil
}

// awaitNoChildren waits for the dump's helpers: the engine forks twice to
// leave the JVM's tree, so they are reparented to stasis (PID 1), and the
// checkpoint is not done while one of them still runs.
func awaitNoChildren(ctx context.Context, h Host) error {
	ctx, cancel := context.WithTimeout(ctx, dumpWait)
	defer cancel()
	for h.HasChildren() {
		select {
		case <-ctx.Done():
			return errors.New("a helper process of the dump is still running")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Restore starts the restoring launcher. It becomes the parent and waiter of
// the restored JVM and exits with its status, so it stands for the
// application. A launcher that exits before any restored child appeared
// failed to restore.
func (e *CRaC) Restore(ctx context.Context, j *RestoreJob) (*reaper.Process, error) {
	cmd := exec.Command(j.Java, CRaCRestoreArgv(j.Java, j.Dir, e.Warp)[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = j.Stdio.Stdin(), j.Stdio.Stdout(), j.Stdio.Stderr()
	p, err := j.Host.Start(cmd)
	if err != nil {
		return nil, err
	}
	if err := j.Stdio.CloseChildEnds(); err != nil {
		j.Log.Warn("close the launcher's stdio ends", "err", err)
	}
	want := 0
	if e.PreservesPIDs() {
		want = j.PID
	}
	child, err := awaitRestoredChild(ctx, p, want)
	if err != nil {
		return nil, withTail(err, filepath.Join(j.Dir, e.RestoreLog()), 10)
	}
	j.Log.Debug("restored JVM is running", "pid", child, "launcher", p.Pid)
	return p, nil
}

// awaitRestoredChild polls the launcher until the restore has finished: the
// restored JVM is its only child, and the launcher is no longer criu itself.
// CRaC's launcher execs `criu restore`, which forks the JVM and, once done,
// execs `criuhelper restorewait`; a launcher that runs criu as a child has
// two children until criu exits. A JVM seen earlier may still be undone by a
// failing restore, and that must count as a restore failure, not as the
// application's exit. With want set (an engine that keeps PIDs) only the
// child with the JVM's checkpoint PID is the JVM.
func awaitRestoredChild(ctx context.Context, p *reaper.Process, want int) (int, error) {
	for {
		if c := childrenOf(p.Pid); len(c) == 1 && (want == 0 || c[0] == want) && commOf(p.Pid) != "criu" {
			return c[0], nil
		}
		select {
		case <-p.Done():
			return 0, fmt.Errorf("the restoring launcher %s before the restore finished", reaper.Describe(p.Status()))
		case <-ctx.Done():
			killWait(p)
			return 0, fmt.Errorf("the restore did not finish in time: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// commOf is the process's command name, "" when it is gone.
func commOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// childrenOf lists the children of every thread of pid: /proc's children
// file is per thread, and a multithreaded launcher may fork from any.
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
