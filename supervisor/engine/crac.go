package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"stasis/attach"
	"stasis/internal/linux"
	"stasis/reaper"
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

// Facts: the CRaC JVM runs CRIU itself (criuengine.cpp), with
// --unprivileged since CRIU 4 (CHECKPOINT_RESTORE and SYS_PTRACE to dump,
// CHECKPOINT_RESTORE to restore), checks the CPU's features itself
// (--cpu-cap=none, image constraints) and hands settings over through
// /dev/shm. DIR/perfdata, which CRaC maps MAP_SHARED, keeps its full
// checksum: the JVM writes it only before the dump (PerfMemoryLinux::
// checkpoint) and remaps its counters to a new /tmp/hsperfdata file right
// after a restore (PerfMemoryLinux::restore), before Java code runs, so a
// restore does not change it (openjdk/crac
// src/hotspot/os/linux/perfMemory_linux.cpp; the second and third restores
// of one image are tested). Warp runs no CRIU, needs no privileges and does
// not keep PIDs or thread IDs.
func (e *CRaC) Facts() Facts {
	// Warp is an engine of the CRaC JDK: its flags are CRaC's.
	f := Facts{JavaCommand: true, AppTrigger: true, RestoreShm: true, JDK: "crac"}
	if e.Warp {
		return f
	}
	f.CRIU, f.PreservesPIDs = CRIUByJVM, true
	return f
}

// The restoring `java -XX:CRaCRestoreFrom` hands its own fds 0-2 to the
// restored JVM, so pipes from stasis are the right stdio.
func (*CRaC) FIFOStdio() bool { return false }
func (*CRaC) DumpLog() string { return "dump4.log" }

// RestoreLog is "": CRaC's restore runs CRIU at -v1 with no log file, its
// messages on the launcher's stderr (openjdk/crac criuengine.cpp
// criuengine::restore).
func (*CRaC) RestoreLog() string { return "" }

func (e *CRaC) LaunchArgv(command []string, o Options) ([]string, error) {
	if err := requireJava(e.Name(), command); err != nil {
		return nil, err
	}
	pin, err := e.pin(command)
	if err != nil {
		return nil, err
	}
	return CRaCLaunchArgv(command, o, pin), nil
}

// pin is the engine flag stasis adds: warp for Warp; for crac the flag that
// makes this JDK use CRIU whatever its default (probed once per JDK). A
// -XX:CRaCEngine the user gave is respected.
func (e *CRaC) pin(command []string) (string, error) {
	if user, _ := userEngineFlags(command); user != "" {
		return "", nil
	}
	if e.Warp {
		return "-XX:CRaCEngine=warp", nil
	}
	java, err := exec.LookPath(command[0])
	if err != nil {
		return "", err
	}
	f, err := ProbeJDK(java)
	if err != nil {
		return "", err
	}
	if f.EngineFlag == "" {
		return "", fmt.Errorf("%s has no -XX:CRaCEngine flag: not a CRaC JDK", java)
	}
	return f.criuEnginePin(), nil
}

// restoreFlags are the engine flags of the restoring launcher: the same
// engine as at checkpoint (the user's, or the pin recorded in the manifest,
// so a restore starts no JDK to probe it), and the user's
// -XX:CRaCEngineOptions.
func (e *CRaC) restoreFlags(command, launchFlags []string) ([]string, error) {
	user, opts := userEngineFlags(command)
	if user == "" {
		user, _ = userEngineFlags(append([]string{"java"}, launchFlags...))
	}
	if user == "" && e.Warp {
		user = "-XX:CRaCEngine=warp"
	}
	// An image made before stasis recorded its launch flags restores
	// without an engine flag, as it was made: probing the JDK here would
	// start a process the reaper does not own.
	var flags []string
	if user != "" {
		flags = append(flags, user)
	}
	return append(flags, opts...), nil
}

// Checkpoint asks the JVM for JDK.checkpoint (unless the application
// checkpoints itself). The JVM answers success BEFORE the engine runs, so
// success is judged afterwards: the JVM died of SIGKILL, no helper of the
// dump is left, and CRIU wrote stats-dump (Warp: its own evidence). The
// JVM's lines and the dump log make a failure fast and say why.
func (e *CRaC) Checkpoint(ctx context.Context, j *CheckpointJob) error {
	pid := followWrapper(j.JVM.Pid)
	if pid != j.JVM.Pid {
		j.Log.Debug("the launcher is CRaC's CRaCMinPid wrapper", "wrapper", j.JVM.Pid, "jvm", pid)
		j.DumpedPID = pid
	}
	if !j.AppTriggered {
		out, err := attach.JCmd(ctx, pid, "JDK.checkpoint", attach.Options{Timeout: 30 * time.Second, Log: j.Log})
		if err != nil {
			return fmt.Errorf("JDK.checkpoint in pid %d: %w", pid, err)
		}
		j.Log.Debug("JDK.checkpoint answered", "reply", strings.TrimSpace(out))
		if exc := refusal(out); exc != "" {
			return fmt.Errorf("the JVM (pid %d) refused the checkpoint and runs on:\n%s", pid, exc)
		}
	}
	if e.Warp {
		return awaitWarpDump(ctx, j)
	}
	return awaitSelfDump(ctx, j, filepath.Join(j.Dir, e.DumpLog()), true)
}

// followWrapper returns the JVM behind CRaC's CRaCMinPid wrapper: when the
// launcher's PID is below -XX:CRaCMinPid at a checkpoint run, it forks and
// stays behind forwarding signals, and the JVM is its only child (openjdk/crac
// src/java.base/share/native/launcher/main.c: is_init, needs_pid_adjust).
// Without the flag the launcher is the JVM.
func followWrapper(pid int) int {
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !strings.Contains(string(cmdline), "-XX:CRaCMinPid=") {
		return pid
	}
	if c := linux.Children(pid); len(c) == 1 {
		return c[0]
	}
	return pid
}

// awaitWarpDump judges a Warp checkpoint by Warp's own evidence, since no
// CRIU runs and no stats-dump is written: the JVM killed by SIGKILL, its
// "warp: Checkpoint successful!" line, and DIR/core.img.
func awaitWarpDump(ctx context.Context, j *CheckpointJob) error {
	if err := awaitJVMEnd(ctx, j, ""); err != nil {
		return err
	}
	const success = "warp: Checkpoint successful!"
	if j.Output.Find(success) == "" {
		// The JVM may be reaped before its forwarder has read its last
		// lines from the pipe: let them come before judging.
		j.Output.settle(100*time.Millisecond, time.Second)
	}
	if j.Output.Find(success) == "" {
		return fmt.Errorf("the JVM died without Warp's \"warp: Checkpoint successful!\"%s", quoted(j.Output))
	}
	if _, err := os.Stat(filepath.Join(j.Dir, "core.img")); err != nil {
		return fmt.Errorf("Warp reported success but wrote no core.img: %w", err)
	}
	return awaitNoChildren(ctx, j.Host)
}

func quoted(o *Output) string {
	if all := o.All(); all != "" {
		return ":\n" + all
	}
	return ""
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

// awaitSelfDump waits for a JVM that dumps itself with CRIU (crac, openj9):
// killed by SIGKILL after the dump, every helper process of the dump
// (reparented to stasis) reaped, and CRIU's stats-dump written. The log is
// read only to fail early and to say why.
func awaitSelfDump(ctx context.Context, j *CheckpointJob, logPath string, criuLog bool) error {
	if err := awaitJVMEnd(ctx, j, logPath); err != nil {
		return err
	}
	if err := awaitNoChildren(ctx, j.Host); err != nil {
		return err
	}
	if criuLog {
		if err := dumpSucceeded(filepath.Dir(logPath)); err != nil {
			return withTail(fmt.Errorf("the JVM died but %w", err), logPath, 10)
		}
	}
	return nil
}

// awaitJVMEnd waits for the JVM to be killed by its dump. It fails at once
// when the JVM says its engine failed (crac.cpp: "CRaC engine failed to
// checkpoint", the JVM runs on: CRIU may never have opened its log, as when
// criu is not found), when the dump log says the dump failed, or when the JVM
// ends otherwise (the newest crac.cpp exits 1 with "Restore cannot continue,
// VM will exit." when CRIU failed after the reply).
func awaitJVMEnd(ctx context.Context, j *CheckpointJob, logPath string) error {
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-j.JVM.Done():
			done = true
		case <-ctx.Done():
			return withTail(fmt.Errorf("the JVM (pid %d) is still running: no checkpoint happened in time", j.JVM.Pid), logPath, 10)
		case <-tick.C:
			if line := j.Output.Find("CRaC engine failed"); line != "" {
				return withTail(fmt.Errorf("the JVM's checkpoint engine failed and the JVM runs on: %s%s", line, quoted(j.Output)), logPath, 10)
			}
			if msg := logError(logPath); msg != "" {
				return withTail(dumpFailed(j, msg), logPath, 10)
			}
		}
	}
	ws := j.JVM.Status()
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		// The JVM's last words ("Restore cannot continue") may still be in
		// the pipe the forwarder reads: give them a moment.
		j.Output.settle(100*time.Millisecond, 500*time.Millisecond)
		return withTail(fmt.Errorf("the JVM ended (%s) instead of being killed by its dump (status 137)%s", reaper.Describe(ws), quoted(j.Output)), logPath, 10)
	}
	return nil
}

// dumpFailed words a failed dump: a current CRaC JVM exits 1 right after
// ("Restore cannot continue"), a legacy one and OpenJ9 run on.
func dumpFailed(j *CheckpointJob, msg string) error {
	select {
	case <-j.JVM.Done():
		j.Output.settle(100*time.Millisecond, 500*time.Millisecond)
		return fmt.Errorf("the dump failed (%s) and the JVM ended (%s)%s", msg, reaper.Describe(j.JVM.Status()), quoted(j.Output))
	case <-time.After(time.Second):
		return fmt.Errorf("the dump failed and the JVM keeps running: %s", msg)
	}
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

// Restore starts the restoring launcher. For crac it execs CRIU, which
// restores the JVM as its child and then becomes restorewait, the JVM's
// waiter that exits with its status: the launcher stands for the
// application. Warp restores in place: the launcher becomes the application
// itself, with a new PID.
func (e *CRaC) Restore(ctx context.Context, j *RestoreJob) (*reaper.Process, error) {
	flags, err := e.restoreFlags(j.Command, j.LaunchFlags)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(j.Java, CRaCRestoreArgv(j.Java, j.Dir, flags...)[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = j.Stdio.Stdin(), j.Stdio.Stdout(), j.Stdio.Stderr()
	if !e.Warp && j.StateDir != "" {
		// CRaC runs `criu restore -W .`: CRIU's work files (stats-restore)
		// go to the launcher's cwd, which must be writable and stasis's own.
		// The restored JVM gets its own cwd back from the image.
		if err := os.MkdirAll(j.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("create the state directory: %w", err)
		}
		cmd.Dir = j.StateDir
	}
	p, err := j.Host.Start(cmd)
	if err != nil {
		return nil, err
	}
	if err := j.Stdio.CloseChildEnds(); err != nil {
		j.Log.Warn("close the launcher's stdio ends", "err", err)
	}
	if e.Warp {
		if err := awaitWarpRestore(ctx, p, j.Output); err != nil {
			return nil, err
		}
		j.Log.Debug("Warp restored in place", "pid", p.Pid)
		return p, nil
	}
	child, err := awaitRestoredChild(ctx, p, j.PID)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, quoted(j.Output))
	}
	j.Log.Debug("restored JVM is running", "pid", child, "launcher", p.Pid)
	return p, nil
}

// awaitWarpRestore waits for Warp's "warp: Restore successful!"; a launcher
// that exits first failed to restore.
func awaitWarpRestore(ctx context.Context, p *reaper.Process, out *Output) error {
	for out.Find("warp: Restore successful!") == "" {
		select {
		case <-p.Done():
			return fmt.Errorf("the restoring launcher %s before Warp said the restore succeeded%s", reaper.Describe(p.Status()), quoted(out))
		case <-ctx.Done():
			killWait(p)
			return fmt.Errorf("the Warp restore did not finish in time: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
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
		// restorewait forwards signals only once its handlers are installed,
		// before it waits for the JVM: until then a SIGTERM would kill it and
		// orphan the JVM.
		if c := linux.Children(p.Pid); len(c) == 1 && (want == 0 || c[0] == want) && commOf(p.Pid) != "criu" &&
			linux.Catches(p.Pid, int(syscall.SIGTERM)) && waitingForChild(p.Pid) {
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

// waitingForChild says whether a thread of pid is blocked in wait4
// (/proc/PID/task/TID/wchan "do_wait"). Where the kernel does not show
// wchan ("0" or unreadable), it answers true: SigCgt alone decides.
func waitingForChild(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	shown := false
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		w := strings.TrimSpace(string(b))
		if err != nil || w == "" || w == "0" {
			continue
		}
		shown = true
		if w == "do_wait" {
			return true
		}
	}
	return !shown
}
