package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// OpenJ9 (IBM Semeru) has two checkpoint modes that exclude each other
// (eclipse-openj9/openj9 runtime/vm/jvminit.c refuses both with
// JVMJ9VM237E, J9NLS_VM_CRIU_CRAC_INCOMPATIBLE_SETTING):
//
//   - -XX:+EnableCRIUSupport: the application checkpoints through
//     org.eclipse.openj9.criu.CRIUSupport and names the directory itself;
//     jcmd's CRIU.checkpoint asks from outside.
//   - -XX:CRaCCheckpointTo=DIR: the portable jdk.crac/org.crac API
//     (jcl/src/java.base/share/classes/jdk/crac/Core.java) checkpoints into
//     DIR; jcmd's JDK.checkpoint asks from outside.

// j9Dump is one checkpointJVMImpl call: the CRIUSupport options that reach
// CRIU (openj9 jcl/src/java.base/share/classes/openj9/internal/criu/
// InternalCRIUSupport.java).
type j9Dump struct {
	imageDir string
	workDir  string // default: imageDir
	logFile  string // default: criu.log, relative to workDir, never a path
	// logLevel 0 means "not set": OpenJ9 passes a level to CRIU only when
	// it is above 0 (InternalCRIUSupport's logLevel field starts at 0;
	// setLogLevel accepts 1-4), so CRIU's own default applies: level 2
	// (checkpoint-restore/criu images/rpc.proto, criu_opts.log_level
	// [default = 2]), at which "Dumping finished successfully" is never
	// logged.
	logLevel                            int
	shellJob, fileLocks, tcpEstablished bool
	leaveRunning                        bool
	// unprivileged: CRIU's --unprivileged. InternalCRIUSupport's field
	// starts false, so OpenJ9 runs CRIU privileged unless the application
	// calls setUnprivileged(true) or -Dopenj9.internal.criu.unprivilegedMode
	// says so (propOverrides); checkpointJVMImpl hands it to libcriu's
	// criu_set_unprivileged (eclipse-openj9/openj9
	// runtime/criusupport/criusupport.cpp).
	unprivileged bool
}

// criuSupportDump is what the built-in application does when it stands for
// a CRIUSupport application: new CRIUSupport(dir) with the choices an
// application makes (IBM's InstantOnStartupGuide Samples/Hooks.java:
// setShellJob(true), setFileLocks(true), setLogFile("logs")). The directory
// is -Dfake.checkpointDir, else $STASIS_IMAGE_DIR: the application does
// what the README tells a CRIUSupport application to do,
// new CRIUSupport(Paths.get(System.getenv("STASIS_IMAGE_DIR"))), and knows
// nothing of stasis's -Dstasis.imageDir. Without the variable it has no
// directory (CRIUSupport's NullPointerException). -Dfake.criu.logFile,
// .workDir and .logLevel are the application's setLogFile, setWorkDir and
// setLogLevel.
func (v *vm) criuSupportDump() (j9Dump, error) {
	d := j9Dump{shellJob: true, fileLocks: true, tcpEstablished: true, logFile: "criu.log"}
	d.imageDir = v.prop("fake.checkpointDir", os.Getenv("STASIS_IMAGE_DIR"))
	d.workDir = v.prop("fake.criu.workDir", "")
	if s := v.prop("fake.criu.logFile", ""); s != "" {
		d.logFile = s
	}
	if s := v.prop("fake.criu.logLevel", ""); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 4 {
			return d, fmt.Errorf("java.lang.IllegalArgumentException: Log level must be 1 to 4 inclusive")
		}
		d.logLevel = n
	}
	if err := v.propOverrides(&d); err != nil {
		return d, err
	}
	return d, d.check()
}

// cracDump is jdk.crac.Core.checkpointRestore() on OpenJ9: InternalCRIUSupport
// with setCheckpointDefaultParams() (leaveRunning false, shellJob,
// tcpEstablished and fileLocks true) on the CRaCCheckpointTo directory
// (openj9 jcl/src/java.base/share/classes/jdk/crac/Core.java,
// .../openj9/internal/criu/InternalCRIUSupport.java); no log level, so
// CRIU's default 2.
func (v *vm) cracDump() (j9Dump, error) {
	d := j9Dump{imageDir: v.opts.checkpointTo, logFile: "criu.log", shellJob: true, fileLocks: true, tcpEstablished: true}
	if err := v.propOverrides(&d); err != nil {
		return d, err
	}
	return d, d.check()
}

// jcmdCRIUDump is CRIU.checkpoint: the key=value arguments became
// openj9.internal.criu.* system properties (DiagnosticUtils.
// parseCheckpointCommands), and checkpointJVM() reads them over
// setCheckpointDefaultParams(): leaveRunning false, shellJob, tcpEstablished
// and fileLocks true (openj9 jcl/src/java.base/share/classes/openj9/
// internal/criu/InternalCRIUSupport.java). The properties read here are
// imageDir, logLevel, logFile and workDir.
func (v *vm) jcmdCRIUDump() (j9Dump, error) {
	d := j9Dump{shellJob: true, fileLocks: true, tcpEstablished: true, logFile: "criu.log"}
	if err := v.propOverrides(&d); err != nil {
		return d, err
	}
	return d, d.check()
}

// propOverrides is the start of InternalCRIUSupport.checkpointJVM(), which
// every checkpoint goes through (the application's CRIUSupport, org.crac's
// Core, both jcmd commands): the openj9.internal.criu.* system properties,
// from the command line or from CRIU.checkpoint, override what was set
// before (imageDir and workDir must be directories, logLevel a number that
// setLogLevel accepts, logFile a name that setLogFile accepts).
func (v *vm) propOverrides(d *j9Dump) error {
	v.mu.Lock()
	p := func(k string) string { return v.opts.props["openj9.internal.criu."+k] }
	imageDir, workDir, logFile, level := p("imageDir"), p("workDir"), p("logFile"), p("logLevel")
	unprivileged, unprivSet := v.opts.props["openj9.internal.criu.unprivilegedMode"]
	v.mu.Unlock()
	if unprivSet {
		// setUnprivileged(Boolean.parseBoolean(value)): "true" in any case,
		// anything else (no value too) false (eclipse-openj9/openj9
		// jcl/src/java.base/share/classes/openj9/internal/criu/
		// InternalCRIUSupport.java, checkpointJVM).
		d.unprivileged = strings.EqualFold(unprivileged, "true")
	}
	if imageDir != "" {
		d.imageDir = imageDir
	}
	if workDir != "" {
		d.workDir = workDir
	}
	if logFile != "" {
		d.logFile = logFile
	}
	if level != "" {
		n, err := strconv.Atoi(level)
		if err != nil || n < 1 || n > 4 {
			return fmt.Errorf("java.lang.IllegalArgumentException: Log level must be 1 to 4 inclusive")
		}
		d.logLevel = n
	}
	return nil
}

// check is setImageDir, setWorkDir and setLogFile's validation.
func (d *j9Dump) check() error {
	if d.imageDir == "" {
		return fmt.Errorf("java.lang.NullPointerException: Image directory cannot be null")
	}
	if st, err := os.Stat(d.imageDir); err != nil || !st.IsDir() {
		return fmt.Errorf("java.lang.IllegalArgumentException: %s is not a valid directory", d.imageDir)
	}
	if d.workDir == "" {
		d.workDir = d.imageDir
	} else if st, err := os.Stat(d.workDir); err != nil || !st.IsDir() {
		return fmt.Errorf("java.lang.IllegalArgumentException: workDir is not a valid directory")
	}
	if strings.Contains(d.logFile, "/") {
		return fmt.Errorf("java.lang.IllegalArgumentException: Log file must not be null and not be a path")
	}
	return nil
}

// criuArgs is the dump as a `criu dump` command line. Real OpenJ9 drives
// CRIU through libcriu, which starts `criu swrk` and sends these options
// over RPC (eclipse-openj9/openj9 runtime/vm/CRIUHelpers.cpp); the double runs the CLI
// with the equivalent options instead, a simplification: -D is the image
// directory, -W the work directory (CRIU chdirs there, so the log file and
// stats-dump land there, measured with criu 4.2.1), -v only when a level
// was set.
func (d j9Dump) criuArgs() []string {
	args := []string{"dump", "-t", strconv.Itoa(os.Getpid()), "-D", d.imageDir, "-W", d.workDir, "-o", d.logFile}
	if d.logLevel > 0 {
		args = append(args, "-v"+strconv.Itoa(d.logLevel))
	}
	for _, o := range []struct {
		on   bool
		flag string
	}{{d.shellJob, "--shell-job"}, {d.fileLocks, "--file-locks"}, {d.tcpEstablished, "--tcp-established"}, {d.leaveRunning, "--leave-running"},
		{d.unprivileged, "--unprivileged"}} {
		if o.on {
			args = append(args, o.flag)
		}
	}
	if os.Getenv("FAKE_DUMP_FAIL") == "1" {
		args = append(args, "--action-script", "/bin/false")
	}
	return args
}

// criuOnPath is how OpenJ9 finds CRIU: libcriu runs the service binary
// "criu" from PATH (criu lib/c/criu.c, criu_init_opts), not $JAVA_HOME/lib.
func criuOnPath() (string, error) {
	p, err := exec.LookPath("criu")
	if err != nil {
		return "", fmt.Errorf("org.eclipse.openj9.criu.SystemCheckpointException: Could not dump the JVM processes: criu not found on PATH: %v", err)
	}
	return p, nil
}

// scheduleSelfCheckpoint stands in for an application that checkpoints
// itself after FAKE_APP_CHECKPOINT_AFTER (or -Dfake.checkpointAfter):
// through CRIUSupport with -XX:+EnableCRIUSupport, through
// org.crac.Core.checkpointRestore() with -XX:CRaCCheckpointTo.
func (v *vm) scheduleSelfCheckpoint() error {
	if err := v.initAttachAPI(); err != nil {
		return err
	}
	s := os.Getenv("FAKE_APP_CHECKPOINT_AFTER")
	if s == "" {
		s = v.prop("fake.checkpointAfter", "")
	}
	after, err := duration("FAKE_APP_CHECKPOINT_AFTER", s)
	if err != nil || after == 0 {
		return err
	}
	go func() {
		<-timeAfter(after)
		v.appCheckpoint()
	}()
	return nil
}

// initAttachAPI starts OpenJ9's attach API the way the JVM does: in a
// thread of its own, "Attach API initializer" (eclipse-openj9/openj9
// jcl/src/java.base/share/classes/openj9/internal/tools/attach/target/
// AttachHandler.java), so the application may serve requests before the
// JVM advertises itself. -Dfake.attachInitDelay=DURATION makes that
// initializer late on purpose.
func (v *vm) initAttachAPI() error {
	delay, err := duration("fake.attachInitDelay", v.prop("fake.attachInitDelay", ""))
	if err != nil {
		return err
	}
	if delay == 0 {
		v.setAttachAPI(startJ9Attach(v))
		return nil
	}
	go func() {
		<-timeAfter(delay)
		v.setAttachAPI(startJ9Attach(v))
	}()
	return nil
}

func (v *vm) attachAPI() *j9Attach {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.j9
}

func (v *vm) setAttachAPI(a *j9Attach) {
	v.mu.Lock()
	v.j9 = a
	v.mu.Unlock()
}

// appCheckpoint is the application's call. Without either mode,
// InternalCRIUSupport.checkpointJVM throws UnsupportedOperationException
// "CRaC or CRIU support is not enabled" and the application runs on.
func (v *vm) appCheckpoint() {
	var d j9Dump
	var err error
	switch {
	case v.opts.enableCRIU:
		d, err = v.criuSupportDump()
	case v.opts.checkpointTo != "":
		d, err = v.cracDump()
	default:
		err = fmt.Errorf("java.lang.UnsupportedOperationException: CRaC or CRIU support is not enabled")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" %v\n", err)
		return
	}
	v.j9Checkpoint(d)
}

// j9Checkpoint runs one dump. The double shuts its attach API down first
// and starts it again after a restore or a failure, so that its image holds
// no attach connection or semaphore wait. That is the double's own choice:
// OpenJ9's sources (AttachHandler.java, InternalCRIUSupport's hooks,
// runtime/vm/CRIUHelpers.cpp) show no such teardown, so a real JVM may
// still hold the attacher's connection at the dump (OpenJ9 dumps with
// tcpEstablished, and stasis restores with --tcp-established). On failure
// OpenJ9 throws SystemCheckpointException ("Could not dump the JVM
// processes, err=N", J9NLS_VM_CRIU_DUMP_FAILED in runtime/nls/j9vm/
// j9vm.nls) and the JVM runs on.
func (v *vm) j9Checkpoint(d j9Dump) {
	if !v.checkpointing.CompareAndSwap(false, true) {
		return
	}
	defer v.checkpointing.Store(false)
	criu, err := criuOnPath()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" %v\n", err)
		return
	}
	v.attachAPI().stop()
	defer func() { v.setAttachAPI(startJ9Attach(v)) }()
	if err := v.writeImageMeta(d.imageDir); err != nil {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" java.io.IOException: %v\n", err)
		return
	}
	if err := startDumper(criu, d.criuArgs(), d.imageDir, nil); err != nil {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" org.eclipse.openj9.criu.SystemCheckpointException: %v\n", err)
		return
	}
	switch outcome := v.awaitDump(d.imageDir); outcome {
	case "restored":
		v.afterRestore()
	case "ok":
	default:
		printLogErrors(filepath.Join(d.workDir, d.logFile))
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" org.eclipse.openj9.criu.SystemCheckpointException: Could not dump the JVM processes, err=-52: %s\n", outcome)
	}
}
