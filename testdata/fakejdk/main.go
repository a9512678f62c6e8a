// Command fakejdk is a test double for the JDKs stasis supports but that
// cannot be installed on a test machine: Azul's CRaC (Zulu) and Warp engines
// and IBM Semeru's OpenJ9. Installed as $HOME/bin/java in a fake JDK home
// (see internal/fakejdktest.Layout), it is the JVM process itself, with a
// small HTTP application built in, and checkpoints and restores with the real
// CRIU the way those JDKs do (docs/runtimes.md). See README.md for the
// behaviour honoured and the test hooks.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	// CRaC's helper executables are this binary under their own names
	// (internal/fakejdktest lays them out).
	switch filepath.Base(os.Args[0]) {
	case "criuhelper", "criuengine":
		os.Exit(runCRIUHelper(os.Args[1:]))
	}
	switch os.Getenv(roleEnv) {
	case dumperFirst:
		os.Exit(runDumperFirst(os.Args[1:]))
	case dumperSecond:
		os.Exit(runDumperSecond(os.Args[1:]))
	}
	os.Exit(run(os.Args[1:]))
}

var timeAfter = time.After

func run(args []string) int {
	start := time.Now()
	o, err := parseOptions(args)
	if err != nil {
		return vmCreateError(err.Error())
	}
	home := javaHome()
	f := detectFlavour(home)
	if o.printFlags {
		printFlags(os.Stdout, f, detectBuild(home))
	}
	if o.version || o.versionStdout {
		w := os.Stderr
		if o.versionStdout {
			w = os.Stdout
		}
		printBanner(w, f)
		return 0
	}
	if msg := unrecognized(f, o); msg != "" {
		return vmCreateError(msg)
	}
	if o.restoreFrom != "" {
		return restoreMain(home, f, o)
	}
	if f == crac {
		if code, wrapped := wrapMinPid(o); wrapped {
			return code
		}
	}
	if f == crac && o.checkpointTo != "" {
		if err := closeInheritedFDs(o.ignoredFDs); err != nil {
			return vmCreateError(err.Error())
		}
		if err := checkCreatable(o.checkpointTo); err != nil {
			return vmCreateError(err.Error())
		}
	}
	v := &vm{home: home, flavour: f, build: detectBuild(home), opts: o, start: start, startTime: procStartTime()}
	// A static JDK maps no VM library: the VM is in bin/java.
	if f == openj9 || !v.build.static {
		if err := mapLibrary(vmLibrary(home, f)); err != nil {
			return vmCreateError(err.Error())
		}
	}
	if f == crac && o.checkpointTo != "" {
		var err error
		if v.perf, err = newPerfMemory(o); err != nil {
			return vmCreateError(err.Error())
		}
	}
	v.attach = newAttachListener(v)
	return v.serve()
}

// unrecognized rejects the options a flavour does not have, as the real
// launcher does ("Unrecognized VM option").
func unrecognized(f flavour, o options) string {
	crac := o.checkpointTo != "" || o.restoreFrom != ""
	switch {
	case f == hotspot && crac:
		return "Unrecognized VM option 'CRaCCheckpointTo'"
	case f != openj9 && o.enableCRIU:
		return "Unrecognized VM option 'EnableCRIUSupport'"
	case f == openj9 && o.enableCRIU && o.checkpointTo != "":
		// eclipse-openj9/openj9 runtime/vm/jvminit.c prints
		// J9NLS_VM_CRIU_CRAC_INCOMPATIBLE_SETTING, the 238th message of
		// module J9VM (runtime/nls/j9vm/j9vm.nls, numbered from 0), as an
		// error, and the VM is not created.
		return "JVMJ9VM237E The command line options -XX:+EnableCRIUSupport and -XX:CRaCCheckpointTo=[DIR] are not compatible."
	}
	return ""
}

// checkCreatable is CRaC's prepare_checkpoint: the directory must exist or
// be creatable (its parent is not created).
func checkCreatable(dir string) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("CRaCCheckpointTo=%s is not a directory", dir)
		}
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("Cannot create CRaCCheckpointTo=%s: %v", dir, err)
	}
	return os.Remove(dir)
}

func vmCreateError(msg string) int {
	fmt.Fprintf(os.Stderr, "Error: %s\nError: Could not create the Java Virtual Machine.\nError: A fatal exception has occurred. Program will exit.\n", msg)
	return 1
}
