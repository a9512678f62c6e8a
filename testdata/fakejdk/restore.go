package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// restoreMain is `java -XX:CRaCRestoreFrom=DIR`: check the image, then
// hand over to the engine.
func restoreMain(home string, f flavour, o options) int {
	dir := o.restoreFrom
	b := detectBuild(home)
	if err := checkImage(dir, f, b, o); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\nError: Could not create the Java Virtual Machine.\nError: A fatal exception has occurred. Program will exit.\n", err)
		return 1
	}
	v := &vm{home: home, flavour: f, build: b, opts: o}
	if f == openj9 {
		return restoreOpenJ9(o, dir)
	}
	if resolvedEngine(v.engine()) == "warp" {
		return v.warpRestore(dir)
	}
	return v.execCRIURestore(dir)
}

// checkImage makes the early checks that exit 1 before CRIU runs.
func checkImage(dir string, f flavour, b build, o options) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("Cannot open CRaCRestoreFrom=%s: %v", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("CRaCRestoreFrom=%s is not a directory", dir)
	}
	if f == openj9 {
		return nil
	}
	if len(o.notSettable) > 0 {
		return fmt.Errorf("VM option '%s' is not restore-settable and is not available on restore", o.notSettable[0])
	}
	engine := o.engine
	if engine == "" {
		engine = b.defaultEngine
	}
	// crac_engine.cpp check_engine: DIR/engine must name the engine that
	// restores.
	data, err := os.ReadFile(filepath.Join(dir, engineFile))
	if err != nil {
		return fmt.Errorf("CRaCRestoreFrom=%s holds no checkpoint image: %v", dir, errors.Unwrap(err))
	}
	if made := strings.TrimSpace(string(data)); made != resolvedEngine(engine) {
		return fmt.Errorf("Image format does not match; saved image with engine %s, restoring with %s", made, resolvedEngine(engine))
	}
	// The CPU check compares the image's CPU tag with this CPU
	// (image_constraints.cpp validate); FAKE_CPU_MISMATCH makes this CPU
	// lack a feature, which only a generic image does not use.
	tags, _ := os.ReadFile(filepath.Join(dir, tagsFile))
	generic := strings.Contains(string(tags), "bitmap:"+cpuTag+"=0000000000000000")
	if os.Getenv("FAKE_CPU_MISMATCH") == "1" && !generic {
		return errors.New("You have to specify -XX:CPUFeatures=0x21421801fcfbd7,0x3e6 together with -XX:CRaCCheckpointTo when making a checkpoint file; specified -XX:CRaCRestoreFrom file contains CPU features 0x21421801fcfbd7,0x3e6; missing features of this CPU are 0x1000000000,0x0")
	}
	return nil
}

// inheritArgs hands the restoring process's fds 0-2 to the restored JVM, as
// the CRIU shipped with CRaC does: every stdio descriptor that was a pipe or
// a socket at checkpoint is named by its key (pipe:[INODE]), and CRIU
// connects it to the same descriptor of its caller. Files and terminals are
// reopened by path (terminals need --shell-job).
func inheritArgs(dir string) []string {
	f, err := os.Open(filepath.Join(dir, stdioFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	var args []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fd, key, ok := strings.Cut(sc.Text(), " ")
		if !ok || seen[key] || !(strings.HasPrefix(key, "pipe:[") || strings.HasPrefix(key, "socket:[")) {
			continue
		}
		seen[key] = true
		args = append(args, "--inherit-fd", "fd["+fd+"]:"+key)
	}
	return args
}

// runCRIU runs CRIU in the foreground and returns its exit status, copying
// its error lines to stderr when it fails.
func runCRIU(criu string, args []string, log string) int {
	cmd := exec.Command(criu, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if err == nil {
		return 0
	}
	printLogErrors(log)
	fmt.Fprintln(os.Stderr, "Restoring FAILED.")
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return ee.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "Error: run %s: %v\n", criu, err)
	return 1
}

// forwardedSignals are 1-31 except KILL and STOP (which cannot be caught),
// CHLD (the restorer's own children) and URG (Go's preemption signal).
func forwardedSignals() []os.Signal {
	var sigs []os.Signal
	for s := syscall.Signal(1); s <= 31; s++ {
		switch s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGURG:
			continue
		}
		sigs = append(sigs, s)
	}
	return sigs
}

// restoreOpenJ9 is OpenJ9's restoring launcher (ibmruntimes/
// openj9-openjdk-jdk11 closed/src/java.base/share/native/libjli/
// criuhelpers.c, handleCRaCRestore): it forks `criu restore -D DIR -vN
// --shell-job [--unprivileged] [--log-file=F]` with criu from PATH, N from
// -Dopenj9.internal.criu.logLevel (0-4, default 2), --unprivileged for
// -Dopenj9.internal.criu.unprivilegedMode (which takes no value) and F from
// -Dopenj9.internal.criu.logFile (without it CRIU logs to stderr), waits,
// and exits 0 ("Completed restore with -XX:CRaCRestoreFrom=PATH.") when
// CRIU exited 0, else 1, whatever became of the application. The double
// adds the --inherit-fd arguments of the stdio it recorded.
func restoreOpenJ9(o options, dir string) int {
	args, err := openJ9RestoreArgs(o, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error: "+err.Error())
		fmt.Fprintln(os.Stderr, "Error: Failed to restore from checkpoint, error=1.")
		return 1
	}
	cmd := exec.Command("criu", append(args, inheritArgs(dir)...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	code := 0
	if err := cmd.Run(); err != nil {
		code = 255 // the child's execvp failed: exit(-1)
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			code = ee.ExitCode()
		}
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "Error: Failed to restore from checkpoint, error=%d.\n", code)
		return 1
	}
	fmt.Fprintln(os.Stderr, "Completed restore with -XX:CRaCRestoreFrom=PATH.")
	return 0
}

// openJ9RestoreArgs is criuhelpers.c restoreFromCheckpoint's command line.
func openJ9RestoreArgs(o options, dir string) ([]string, error) {
	level := 2
	if s, ok := o.props["openj9.internal.criu.logLevel"]; ok && s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 4 || strings.TrimLeft(s, "0123456789") != "" {
			return nil, fmt.Errorf("The option '-Dopenj9.internal.criu.logLevel=%s' is not valid.", s)
		}
		level = n
	}
	args := []string{"restore", "-D", dir, "-v" + strconv.Itoa(level), "--shell-job"}
	if s, ok := o.props["openj9.internal.criu.unprivilegedMode"]; ok {
		if s != "" {
			return nil, fmt.Errorf("The option '-Dopenj9.internal.criu.unprivilegedMode=%s' does not accept a value.", s)
		}
		args = append(args, "--unprivileged")
	}
	if s, ok := o.props["openj9.internal.criu.logFile"]; ok {
		if s == "" {
			return nil, fmt.Errorf("The option -Dopenj9.internal.criu.logFile requires a value.")
		}
		args = append(args, "--log-file="+s)
	}
	return args, nil
}
