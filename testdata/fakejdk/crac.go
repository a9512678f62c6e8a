package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sigRestore is CRaC's RESTORE_SIGNAL, SIGRTMIN+2 (glibc's SIGRTMIN is 34):
// the engine's dumper sends it to the JVM when CRIU failed, and criuhelper's
// post-resume action sends it to the restored JVM (openjdk/crac
// src/java.base/linux/native/libcriuengine/criuengine.cpp, kickjvm).
const sigRestore = syscall.Signal(36)

// kickEnv tells the double's dumper which JVM to kick (internal to the
// double: the real engine knows it from getpid() before it forks).
const kickEnv = "FAKEJDK_KICK"

// The memfd names the current engine creates before a dump and names again
// in --inherit-fd at restore (criuengine.cpp CRAC_FAKE_STDIN/STDOUT/STDERR).
var fakeStdio = [3]string{"crac_fake_stdin", "crac_fake_stdout", "crac_fake_stderr"}

// cracCheckpoint is what follows the JDK.checkpoint reply, which CRaC sends
// before the engine runs (openjdk/crac src/hotspot/share/runtime/crac.cpp,
// VM_Crac::doit: report_ok_to_jcmd_if_any(), then checkpoint_restore()).
//
// The checkpoint runs at a safepoint (VM_Crac is a VM operation), so no Java
// thread runs from here until the engine returns after the restore: the
// double holds the application's lock (its ticker) for that long, and a
// restored ticker writes only after fds 0-2 were handed over.
func (v *vm) cracCheckpoint(dir string) {
	defer v.checkpointing.Store(false)
	v.mu.Lock()
	defer v.mu.Unlock()
	engine := v.opts.engine
	if engine == "" {
		engine = v.build.defaultEngine
	}
	// crac_engine.cpp CracEngine::checkpoint: record_engine writes DIR/engine
	// before the engine runs.
	if err := os.WriteFile(filepath.Join(dir, "engine"), []byte(resolvedEngine(engine)), 0o644); err != nil {
		v.engineFailed(dir)
		return
	}
	if resolvedEngine(engine) == "warp" {
		v.warpCheckpoint(dir)
		return
	}
	v.writeCPUFeatures(dir)
	if err := v.perf.checkpoint(dir); err != nil {
		fmt.Println(err)
		v.engineFailed(dir)
		return
	}
	criu, err := v.findCRIU()
	if err != nil {
		// The engine fails before CRIU runs, so CRIU never opens dump4.log.
		fmt.Fprintln(os.Stderr, err)
		v.perf.checkpointFailed()
		v.engineFailed(dir)
		return
	}
	var fakes [3]int
	if !v.build.legacy {
		fakes = v.prepareStdio()
	}
	kick := make(chan os.Signal, 1)
	signal.Notify(kick, sigRestore)
	defer signal.Stop(kick)
	if err := startDumper(criu, v.dumpArgs(dir, "dump4.log"), dir, []string{kickEnv + "=" + strconv.Itoa(os.Getpid())}); err != nil {
		fmt.Fprintln(os.Stderr, "criuengine:", err)
		v.perf.checkpointFailed()
		v.engineFailed(dir)
		return
	}
	<-kick
	if procStartTime() != v.startTime {
		v.afterCRaCRestore(fakes)
		return
	}
	v.dumpFailed(dir, fakes)
}

// engineFailed is crac.cpp checkpoint_restore() when the engine returned
// an error: unified logging's error line (stdout by default) and the JVM
// runs on; JDK.checkpoint has already answered OK.
func (v *vm) engineFailed(dir string) {
	fmt.Printf("[%.3fs][error][crac] CRaC engine failed to checkpoint to %s: error -1\n", time.Since(v.start).Seconds(), dir)
}

// dumpFailed: CRIU failed after it started, and the engine kicked the JVM
// with -1. A current build takes the -1 as restore data (the signal came by
// sigqueue, so checkpoint() returns 0), and crac.cpp VM_Crac::doit then
// exits: vm_direct_exit(1, "Restore cannot continue, VM will exit.")
// (openjdk/crac src/hotspot/share/runtime/crac.cpp; criuengine.cpp
// criuengine::checkpoint). A legacy build reports the engine failure and
// runs on.
func (v *vm) dumpFailed(dir string, fakes [3]int) {
	for _, fd := range fakes {
		if fd > 0 {
			unix.Close(fd)
		}
	}
	if v.build.legacy {
		v.perf.checkpointFailed()
		printLogErrors(filepath.Join(dir, "dump4.log"))
		v.engineFailed(dir)
		return
	}
	fmt.Println("Restore cannot continue, VM will exit.")
	os.Exit(1)
}

// findCRIU finds CRIU the way the build's engine does.
func (v *vm) findCRIU() (string, error) {
	if v.build.legacy {
		// criuengine.cpp (executable) main(): CRAC_CRIU_PATH, then the
		// engine's directory's criu, then /usr/sbin/criu.
		for _, p := range []string{os.Getenv("CRAC_CRIU_PATH"), filepath.Join(v.home, "lib", "criu"), "/usr/sbin/criu"} {
			if p != "" && exists(p) {
				return p, nil
			}
		}
		return "", fmt.Errorf("cannot find CRIU to use")
	}
	// criuengine::get_criu: criu_location, then CRAC_CRIU_PATH, then PATH.
	for _, p := range []string{v.opts.engineOptions["criu_location"], os.Getenv("CRAC_CRIU_PATH")} {
		if p == "" {
			continue
		}
		if !exists(p) {
			return "", fmt.Errorf("criuengine: CRIU executable does not exist in %s", p)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "criu")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o100 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("criuengine: Cannot find CRIU executable on the PATH")
}

// dumpArgs is the engine's `criu dump` command line: current builds add
// --unprivileged unless legacy_criu=true (criuengine::checkpoint); the
// legacy executable engine does not (criuengine.cpp checkpoint()).
// args= (CRaCEngineOptions) are appended last. FAKE_DUMP_FAIL adds an
// action script that fails, so CRIU gives up after it started and logged.
func (v *vm) dumpArgs(dir, log string) []string {
	args := []string{"dump", "-t", strconv.Itoa(os.Getpid()), "-D", dir, "-v4", "-o", log, "--shell-job"}
	if !v.build.legacy && v.opts.engineOptions["legacy_criu"] != "true" && v.flavour == crac {
		args = append(args, "--unprivileged")
	}
	args = append(args, v.criuOpts()...)
	if extra := v.opts.engineOptions["args"]; extra != "" {
		args = append(args, strings.Fields(extra)...)
	}
	if os.Getenv("FAKE_DUMP_FAIL") == "1" {
		args = append(args, "--action-script", "/bin/false")
	}
	return args
}

// criuOpts are CRAC_CRIU_OPTS, split at blanks, which every engine appends
// to both its dump and its restore command lines before args= (openjdk/crac
// src/java.base/linux/native/libcriuengine/criuengine.cpp
// ArgsBuilder::append_all, which logs that the variable is deprecated; the
// executable src/java.base/unix/native/criuengine/criuengine.cpp checkpoint()
// and restore(), silently).
func (v *vm) criuOpts() []string {
	opts := strings.Fields(os.Getenv("CRAC_CRIU_OPTS"))
	if len(opts) > 0 && !v.build.legacy {
		fmt.Fprintln(os.Stderr, "criuengine: CRAC_CRIU_OPTS is deprecated, will be obsoleted in JDK 28 and removed in JDK 29. Use -XX:CRaCEngineOptions=args=...")
	}
	return opts
}

// prepareStdio is what a current engine does before the dump
// (criuengine::checkpoint): three memfds that CRIU will replace at restore
// with the restoring process's fds 0-2 (--inherit-fd), and setsid when the
// JVM is not a session leader, so that the restore without --shell-job
// does not wait for a session helper.
func (v *vm) prepareStdio() [3]int {
	var fds [3]int
	for i, name := range fakeStdio {
		fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
		if err != nil {
			fmt.Fprintf(os.Stderr, "criuengine: Cannot create fake FDs for non-shell jobs: %v\n", err)
		}
		fds[i] = fd
	}
	if sid, _ := unix.Getsid(0); sid != os.Getpid() {
		if s, err := unix.Setsid(); err == nil {
			unix.Setpgid(0, s)
		}
	}
	return fds
}

// afterCRaCRestore: a memfd that CRIU replaced (no longer sealable) is the
// restoring process's descriptor and becomes the JVM's fd 0, 1 or 2
// (criuengine::checkpoint after sigwaitinfo).
func (v *vm) afterCRaCRestore(fakes [3]int) {
	for i, fd := range fakes {
		if fd <= 0 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0); err != nil {
			unix.Dup2(fd, i)
		}
		unix.Close(fd)
	}
	v.perf.restored()
	v.afterRestore()
}

// writeCPUFeatures is the image constraints file DIR/tags, where the
// engine persists the tags the JVM set before the dump, one per line,
// "label:NAME=VALUE" or "bitmap:NAME=HEX" (openjdk/crac
// src/java.base/share/native/libcrcommon/image_constraints.cpp
// ImageConstraints::persist); the JVM stores its CPU features there at the
// first checkpoint (crac.cpp checkpoint_restore, store_cpuinfo). The tag's
// name and bitmap are the double's: all zeros for -XX:CPUFeatures=generic,
// all ones for this CPU.
func (v *vm) writeCPUFeatures(dir string) {
	bitmap := "ffffffffffffffff"
	if v.opts.cpuFeatures == "generic" {
		bitmap = "0000000000000000"
	}
	os.WriteFile(filepath.Join(dir, tagsFile), []byte("bitmap:"+cpuTag+"="+bitmap+"\n"), 0o644)
}

// The image constraints file and the double's CPU tag in it.
const (
	tagsFile = "tags"
	cpuTag   = "cpu.features"
)

// wrapMinPid is the launcher's CRaCMinPid wrapper (openjdk/crac
// src/java.base/share/native/launcher/main.c): at a checkpoint run, when
// the launcher's PID is below -XX:CRaCMinPid (or it is PID 1), it moves the
// next PID to the minimum, forks, and stays behind forwarding signals 1-31
// to the child, which goes on to be the JVM; it exits with the child's
// status or re-raises its signal. It reports false when no wrapper is
// needed (this process goes on as the JVM).
func wrapMinPid(o options) (int, bool) {
	min := o.minPID
	isInit := os.Getpid() == 1
	if isInit && min == 0 {
		min = 128
	}
	if o.checkpointTo == "" || !(isInit || os.Getpid() < min) {
		return 0, false
	}
	if os.Getpid() < min {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(min)), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "set_last_pid: %v\n", err)
			return 1, true
		}
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, forwardedSignals()...)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "fork: %v\n", err)
		return 1, true
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		dieBySignal(ws.Signal())
	}
	if err != nil && cmd.ProcessState == nil {
		return 1, true
	}
	return cmd.ProcessState.ExitCode(), true
}
