package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func (v *vm) engine() string {
	if v.opts.engine != "" {
		return v.opts.engine
	}
	return v.build.defaultEngine
}

// execCRIURestore is the CRIU engine's restore: the restoring launcher execs
// `criu restore` in its own process; CRIU forks the JVM with its checkpoint
// PID and, once the restore is done, execs `criuhelper restorewait`, which
// waits for the JVM. No -d, no pidfile and no log file: CRIU logs to
// stderr at -v1 (openjdk/crac src/java.base/linux/native/libcriuengine/
// criuengine.cpp criuengine::restore; legacy: src/java.base/unix/native/
// criuengine/criuengine.cpp restore()).
func (v *vm) execCRIURestore(dir string) int {
	criu, err := v.findCRIU()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintf(os.Stderr, "[error][crac] Failed to restore from %s\n", dir)
		return 1
	}
	argv := v.restoreArgv(criu, dir)
	env := append(os.Environ(), "CRAC_NEW_ARGS_ID=0")
	err = syscall.Exec(criu, argv, env)
	fmt.Fprintf(os.Stderr, "criuengine: Cannot execute CRIU: %v\n", err)
	return 1
}

func (v *vm) restoreArgv(criu, dir string) []string {
	if v.build.legacy {
		helper := filepath.Join(v.home, "lib", "criuengine")
		argv := []string{criu, "restore", "-W", ".", "--shell-job", "--action-script", helper, "-D", dir, "-v1"}
		argv = append(argv, v.criuOpts()...)
		return append(argv, "--exec-cmd", "--", helper, "restorewait")
	}
	// ../lib/criuhelper relative to the engine (also in a static build).
	helper := filepath.Join(v.home, "lib", "criuhelper")
	argv := []string{criu, "restore", "-W", ".", "--action-script", helper, "-D", dir, "--cpu-cap=none", "-v1"}
	if v.opts.engineOptions["legacy_criu"] == "true" {
		argv = append(argv, "--shell-job")
	} else if exists(filepath.Join(dir, "tty-info.img")) {
		argv = append(argv, "--unprivileged", "--shell-job")
	} else {
		argv = append(argv, "--unprivileged")
		for i, name := range fakeStdio {
			argv = append(argv, "--inherit-fd", fmt.Sprintf("fd[%d]:/memfd:%s", i, name))
		}
	}
	argv = append(argv, v.criuOpts()...)
	if extra := v.opts.engineOptions["args"]; extra != "" {
		argv = append(argv, strings.Fields(extra)...)
	}
	return append(argv, "--exec-cmd", "--", helper, "restorewait")
}
