package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Files in an image directory next to CRIU's: CRaC's engine record
// (crac_engine.cpp record_engine), and two that only the OpenJ9 flavour of
// the double keeps (OpenJ9 itself writes neither).
const (
	engineFile   = "engine"               // CRaC: the engine that made the image
	stdioFile    = "fakejdk-stdio"        // OpenJ9 double: what fds 0-2 were at checkpoint, for --inherit-fd
	resultFile   = ".fakejdk-dump-result" // OpenJ9 double: written by the dumper after CRIU ends
	roleEnv      = "FAKEJDK_ROLE"
	dumperFirst  = "dumper1"
	dumperSecond = "dumper2"
)

// jcmdCheckpoint is JDK.checkpoint: refuse while a forbidden descriptor is
// open, otherwise answer success first and dump afterwards, like CRaC's
// VM_Crac (report_ok_to_jcmd_if_any precedes the engine).
func (v *vm) jcmdCheckpoint() (int, string, func()) {
	if v.opts.checkpointTo == "" {
		return jniOK, checkpointException("java.lang.RuntimeException: C/R is not configured"), nil
	}
	if !v.checkpointing.CompareAndSwap(false, true) {
		return jniOK, checkpointException("java.lang.IllegalStateException: checkpoint already in progress"), nil
	}
	// CRaC aborts the attach listener before it checks descriptors; the next
	// SIGQUIT starts it again.
	v.attach.abort()
	if bad := v.forbiddenFDs(); len(bad) > 0 {
		v.checkpointing.Store(false)
		return jniOK, checkpointException(bad...), nil
	}
	dir := v.opts.checkpointTo
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		v.checkpointing.Store(false)
		return jniOK, checkpointException("java.io.IOException: Cannot create CRaCCheckpointTo=" + dir + ": " + err.Error()), nil
	}
	return jniOK, "", func() { v.cracCheckpoint(dir) }
}

func checkpointException(suppressed ...string) string {
	var b strings.Builder
	b.WriteString("An exception during a checkpoint operation:\njdk.internal.crac.mirror.CheckpointException\n")
	for _, s := range suppressed {
		fmt.Fprintf(&b, "\tSuppressed: %s\n", s)
		b.WriteString("\t\tat java.base/jdk.internal.crac.mirror.Core.translateJVMExceptions(Core.java:117)\n")
		b.WriteString("\t\tat java.base/jdk.internal.crac.mirror.Core.checkpointRestore1(Core.java:188)\n")
	}
	return b.String()
}

// forbiddenFDs lists the descriptors a CRaC checkpoint refuses. Descriptors
// 0-2, the ignored ones, sockets (the app's listener and the attach
// connection: the built-in app behaves as a CRaC-aware framework that
// reopens them) and anonymous inodes (Go's netpoller) are allowed; files and
// pipes are not.
func (v *vm) forbiddenFDs() []string {
	fds, _, err := listFDs()
	if err != nil {
		return []string{"java.io.IOException: " + err.Error()}
	}
	var bad []string
	for _, fd := range fds {
		if fd <= 2 || v.opts.ignoredFDs[fd] {
			continue
		}
		target, typ := fdTarget(fd), fdType(fd)
		if typ == "socket" || strings.HasPrefix(target, "anon_inode:") {
			continue
		}
		exc := "jdk.internal.crac.mirror.impl.CheckpointOpenFileException"
		if typ == "fifo" {
			exc = "jdk.internal.crac.mirror.impl.CheckpointOpenResourceException"
		}
		bad = append(bad, fmt.Sprintf("%s: FD fd=%d type=%s path=%s", exc, fd, typ, target))
	}
	return bad
}

// writeImageMeta records, for the OpenJ9 flavour, what its restore needs
// of the checkpoint that the double cannot learn otherwise: what fds 0-2
// were (inheritArgs). OpenJ9 itself writes no such file; its CRIU records
// the same in its images (checkpoint-restore/criu criu/files.c).
func (v *vm) writeImageMeta(dir string) error {
	var stdio strings.Builder
	for fd := 0; fd <= 2; fd++ {
		fmt.Fprintf(&stdio, "%d %s\n", fd, fdTarget(fd))
	}
	os.Remove(filepath.Join(dir, resultFile))
	if err := os.WriteFile(filepath.Join(dir, stdioFile), []byte(stdio.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", stdioFile, err)
	}
	return nil
}

// startDumper runs the dumper through an intermediate process that exits at
// once, so the dumper is reparented to PID 1 (or the nearest subreaper) and
// is not part of the tree CRIU dumps. The gate pipe holds the dumper back
// until this process has reaped the intermediate and closed its end, so that
// no child and no extra descriptor is left in the dumped process.
func startDumper(criu string, args []string, dir string, env []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("create gate pipe: %w", err)
	}
	cmd := exec.Command("/proc/self/exe", append([]string{criu, dir}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), roleEnv+"="+dumperFirst)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	err = cmd.Start()
	r.Close()
	if err == nil {
		err = cmd.Wait()
	}
	w.Close()
	if err != nil {
		return fmt.Errorf("start dumper: %w", err)
	}
	return nil
}

// runDumperFirst is the intermediate process: start the dumper and leave.
func runDumperFirst(args []string) int {
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+dumperSecond)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{os.NewFile(3, "gate")}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "start dumper: %v\n", err)
		return 1
	}
	return 0
}

// runDumperSecond waits for the gate, runs CRIU and records its outcome in
// the image directory for the JVM, which polls for it.
func runDumperSecond(args []string) int {
	gate := os.NewFile(3, "gate")
	buf := make([]byte, 1)
	for {
		if _, err := gate.Read(buf); err != nil {
			break
		}
	}
	gate.Close()
	criu, dir := args[0], args[1]
	cmd := exec.Command(criu, args[2:]...)
	cmd.Env = withoutEnv(os.Environ(), roleEnv)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stderr, os.Stderr
	cmd.Env = withoutEnv(cmd.Env, kickEnv)
	if jvm, _ := strconv.Atoi(os.Getenv(kickEnv)); jvm > 0 && os.Getenv("FAKE_DUMP_KILLED") == "1" {
		// Test hook: the JVM is killed (say, by the OOM killer) before CRIU
		// could dump it: status 137 with no image.
		unix.Kill(jvm, unix.SIGKILL)
		return 0
	}
	err := cmd.Run()
	if jvm, _ := strconv.Atoi(os.Getenv(kickEnv)); jvm > 0 {
		// CRaC's engine: kickjvm(jvm, -1) when CRIU failed; on success
		// CRIU has killed the JVM (openjdk/crac
		// src/java.base/linux/native/libcriuengine/criuengine.cpp,
		// criuengine::execute_criu).
		if err != nil {
			fmt.Fprintf(os.Stderr, "criuengine: CRIU failed with exit code %d - check %s/dump4.log\n", exitCode(err), dir)
			unix.Kill(jvm, sigRestore)
		}
		return 0
	}
	result := "ok"
	if err != nil {
		result = "criu dump failed: " + err.Error()
	}
	os.WriteFile(filepath.Join(dir, resultFile), []byte(result+"\n"), 0o644)
	return 0
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// awaitDump polls until the process finds itself restored (its start time
// changed) or the dumper recorded a result.
func (v *vm) awaitDump(dir string) string {
	for {
		if procStartTime() != v.startTime {
			return "restored"
		}
		if b, err := os.ReadFile(filepath.Join(dir, resultFile)); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// printLogErrors copies CRIU's error lines to the JVM's stderr, as CRaC's
// engine leaves them there and in the log.
func printLogErrors(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "Error") {
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

// afterRestore runs in the restored process. Nothing in CRaC's
// restorewait or CRIU sets a parent-death signal (openjdk/crac
// src/java.base/linux/native/libcriuengine/criuhelper.c, restorewait): a
// restored JVM whose restoring process dies runs on, reparented.
func (v *vm) afterRestore() {
	v.startTime = procStartTime()
	fmt.Printf("Restored fake app (pid %d)\n", os.Getpid())
}
