package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	openj9attach "stasis/attach/openj9"
	"stasis/reaper"
)

// OpenJ9 is IBM Semeru's CRIU support, in one of OpenJ9's two modes, which
// exclude each other (eclipse-openj9/openj9 runtime/vm/jvminit.c refuses
// both, JVMJ9VM237E):
//
//   - criusupport (-XX:+EnableCRIUSupport): the application checkpoints
//     through org.eclipse.openj9.criu.CRIUSupport into a directory it names
//     itself (it reads STASIS_IMAGE_DIR; -Dstasis.imageDir is passed as a
//     convenience), or stasis asks with jcmd's CRIU.checkpoint,imageDir=DIR.
//   - crac (-XX:CRaCCheckpointTo=DIR): the portable org.crac API, or jcmd's
//     JDK.checkpoint.
//
// Either way the JVM dumps itself with CRIU and dies by SIGKILL (137).
// stasis restores with criu directly: OpenJ9's restoring launcher forks
// `criu restore` and exits 0 or 1 whatever the application does
// (ibmruntimes/openj9-openjdk-jdk11 closed/src/java.base/share/native/libjli/
// criuhelpers.c), which would lose the application's exit status.
type OpenJ9 struct{}

// The values of STASIS_OPENJ9_API.
const (
	OpenJ9CRIUSupport = "criusupport"
	OpenJ9CRaC        = "crac"
)

// OpenJ9APIs lists the values of STASIS_OPENJ9_API, the default first.
func OpenJ9APIs() []string { return []string{OpenJ9CRIUSupport, OpenJ9CRaC} }

func (*OpenJ9) Name() string       { return "openj9" }
func (*OpenJ9) FIFOStdio() bool    { return true }
func (*OpenJ9) DumpLog() string    { return "criu.log" }
func (*OpenJ9) RestoreLog() string { return "restore.log" }

// Facts: the application checkpoints itself with libcriu; stasis restores
// with criu. Its privileges are in needs.go and OpenJ9DumpCaps.
func (*OpenJ9) Facts() Facts {
	return Facts{CRIU: CRIUByStasis, JavaCommand: true, PreservesPIDs: true, AppTrigger: true, SelfTriggered: true, CPUBound: true,
		// SETPCAP at restore, as examples/semeru has it from Open Liberty's
		// instructions (OpenLiberty/ci.docker); not measured: no Semeru here.
		ExtraCaps: []int{CapSetpcap}, DumpCaps: OpenJ9DumpCaps, LibCRIU: true,
		// Its flags (-XX:+EnableCRIUSupport, -XX:CRaCCheckpointTo) are
		// OpenJ9's: a HotSpot JDK refuses the first and takes the second
		// for CRaC's.
		JDK: "openj9"}
}

// OpenJ9UnprivilegedProperty is the system property that runs OpenJ9's
// CRIU dump in CRIU's unprivileged mode.
const OpenJ9UnprivilegedProperty = "openj9.internal.criu.unprivilegedMode"

// OpenJ9Unprivileged says whether the JVM of command dumps with CRIU's
// --unprivileged. OpenJ9 runs CRIU privileged unless the application calls
// CRIUSupport.setUnprivileged(true) or the command sets the property: it is
// read with Boolean.parseBoolean ("true" in any case; anything else,
// an empty value too, is false) and overrides the application's choice
// (eclipse-openj9/openj9 jcl/src/java.base/share/classes/openj9/internal/
// criu/InternalCRIUSupport.java, checkpointJVM: "Add option overrides";
// the field unprivileged defaults to false). The last -D wins, as for every
// system property on a java command line. stasis sees only the command
// (not an API call, not JAVA_TOOL_OPTIONS).
func OpenJ9Unprivileged(command []string) bool {
	unpriv := false
	for _, a := range command {
		a = strings.TrimSpace(a)
		if a == "-D"+OpenJ9UnprivilegedProperty {
			unpriv = false
		} else if v, ok := strings.CutPrefix(a, "-D"+OpenJ9UnprivilegedProperty+"="); ok {
			unpriv = strings.EqualFold(v, "true")
		}
	}
	return unpriv
}

// OpenJ9DumpCaps are what OpenJ9's own CRIU dump needs (Facts.DumpCaps).
// Privileged, it is CRIU's privileged dump: SYS_ADMIN, as the criu engine
// measured (needs.go, privileged; SYS_ADMIN also grants what
// CHECKPOINT_RESTORE does). Unprivileged: CHECKPOINT_RESTORE and NET_ADMIN,
// with SYS_PTRACE where Yama needs it (NeedsOf), as OpenJ9 itself advises
// when CRIU says "Running as non-root requires '--unprivileged'"
// (eclipse-openj9/openj9 jcl/src/openj9.criu/share/classes/org/eclipse/
// openj9/criu/SearchKnownFailures.java: --cap-add=CHECKPOINT_RESTORE,
// --cap-add=NET_ADMIN and --cap-add=SYS_PTRACE). Neither set was measured:
// no Semeru here.
func OpenJ9DumpCaps(command []string) []int {
	if OpenJ9Unprivileged(command) {
		return []int{CapCheckpointRestore, CapNetAdmin}
	}
	return []int{CapSysAdmin}
}

// Mode: OpenJ9's two modes exclude each other (openj9.go's LaunchArgv);
// stasis logs which one the JVM gets.
func (*OpenJ9) Mode(o Options) (setting, value, flags string) {
	api := openJ9API(o)
	if api == OpenJ9CRaC {
		return "STASIS_OPENJ9_API", api, "-XX:CRaCCheckpointTo (org.crac, jcmd JDK.checkpoint)"
	}
	return "STASIS_OPENJ9_API", api, "-XX:+EnableCRIUSupport -Dstasis.imageDir, STASIS_IMAGE_DIR in its environment (CRIUSupport, jcmd CRIU.checkpoint)"
}

func openJ9API(o Options) string {
	if o.OpenJ9API == "" {
		return OpenJ9CRIUSupport
	}
	return o.OpenJ9API
}

func (e *OpenJ9) LaunchArgv(command []string, o Options) ([]string, error) {
	if err := requireJava(e.Name(), command); err != nil {
		return nil, err
	}
	switch api := openJ9API(o); {
	case api == OpenJ9CRIUSupport && hasFlag(command, "-XX:CRaCCheckpointTo"):
		return nil, errors.New("STASIS_OPENJ9_API=criusupport adds -XX:+EnableCRIUSupport, and the command has -XX:CRaCCheckpointTo: OpenJ9 refuses both (JVMJ9VM237E); set STASIS_OPENJ9_API=crac or drop the flag")
	case api == OpenJ9CRaC && hasFlag(command, "-XX:+EnableCRIUSupport"):
		return nil, errors.New("STASIS_OPENJ9_API=crac adds -XX:CRaCCheckpointTo, and the command has -XX:+EnableCRIUSupport: OpenJ9 refuses both (JVMJ9VM237E); set STASIS_OPENJ9_API=criusupport or drop the flag")
	case api == OpenJ9CRaC && hasFlag(command, "-XX:CRaCCheckpointTo"):
		return nil, errors.New("the command sets -XX:CRaCCheckpointTo; stasis sets it to STASIS_IMAGE_DIR itself: drop the flag")
	}
	return OpenJ9LaunchArgv(command, o), nil
}

// LaunchEnv puts STASIS_IMAGE_DIR in the JVM's environment: a CRIUSupport
// application names the directory itself and reads it from there
// (System.getenv("STASIS_IMAGE_DIR")), also when the directory came from
// --image-dir or the default and not from stasis's own environment.
func (*OpenJ9) LaunchEnv(o Options) []string {
	return []string{"STASIS_IMAGE_DIR=" + o.Dir}
}

// Checkpoint asks for the checkpoint through OpenJ9's attach API unless the
// application checkpoints itself, then waits for the dump and judges it.
func (e *OpenJ9) Checkpoint(ctx context.Context, j *CheckpointJob) error {
	started := time.Now()
	if !j.AppTriggered {
		if err := e.request(ctx, j); err != nil {
			return err
		}
	}
	return awaitOpenJ9Dump(ctx, j, started)
}

// request sends the mode's checkpoint command: JDK.checkpoint in CRaC mode,
// CRIU.checkpoint with the image directory otherwise (eclipse-openj9/openj9
// .../attach/target/DiagnosticUtils.java). Both answer "JVM checkpoint
// requested" and dump afterwards, in a thread of their own.
func (e *OpenJ9) request(ctx context.Context, j *CheckpointJob) error {
	cmd, err := checkpointCommand(j.Options)
	if err != nil {
		return err
	}
	name, _, _ := strings.Cut(cmd, " ")
	out, err := jcmdOnceAdvertised(ctx, j, cmd)
	var je *openj9attach.JVMError
	switch {
	case errors.As(err, &je) && strings.Contains(je.Text, "not recognized"):
		return fmt.Errorf("this OpenJ9 JVM has no %s command (%s; %s): let the application checkpoint itself with STASIS_CHECKPOINT_ON=app: "+
			"with STASIS_OPENJ9_API=criusupport it calls new CRIUSupport(Paths.get(System.getenv(\"STASIS_IMAGE_DIR\"))).checkpointJVM(), "+
			"with STASIS_OPENJ9_API=crac org.crac.Core.checkpointRestore()", name, strings.ReplaceAll(je.Text, "\n", ": "), sinceRelease(name))
	case err != nil:
		return fmt.Errorf("%s in pid %d through OpenJ9's attach API: %w", name, j.JVM.Pid, err)
	}
	j.Log.Debug(name+" answered", "reply", strings.TrimSpace(out))
	if !strings.Contains(out, "JVM checkpoint requested") {
		return fmt.Errorf("the JVM (pid %d) refused %s and runs on: %s", j.JVM.Pid, name, strings.TrimSpace(out))
	}
	return nil
}

// checkpointCommand is the mode's command line. CRIU.checkpoint carries the
// image directory as one comma-separated key=value word, which OpenJ9 splits
// on "," and "=" (DiagnosticUtils.parseCheckpointCommands; a bad word fails
// the command after the words before it were set as properties), so a
// directory with a comma, "=" or a blank cannot be sent.
func checkpointCommand(o Options) (string, error) {
	if openJ9API(o) == OpenJ9CRaC {
		return "JDK.checkpoint", nil
	}
	if strings.ContainsAny(o.Dir, ",= \t\n") {
		return "", fmt.Errorf("STASIS_IMAGE_DIR=%q cannot travel in OpenJ9's CRIU.checkpoint,imageDir=…, which splits on commas, '=' and blanks: "+
			"use a directory without them, STASIS_OPENJ9_API=crac, or STASIS_CHECKPOINT_ON=app", o.Dir)
	}
	return "CRIU.checkpoint imageDir=" + o.Dir, nil
}

// sinceRelease says which OpenJ9 releases have a checkpoint command, by the
// release tags of eclipse-openj9/openj9 (DiagnosticUtils.java).
func sinceRelease(command string) string {
	if command == "JDK.checkpoint" {
		return "OpenJ9 has it from 0.44.0, in builds with CRaC support"
	}
	return "OpenJ9 has it from 0.53.0; from 0.44.0, STASIS_OPENJ9_API=crac sends JDK.checkpoint in builds with CRaC support"
}

// openJ9AttachWait bounds the wait for the JVM's attach advertisement, and
// then the command.
const openJ9AttachWait = 30 * time.Second

// jcmdOnceAdvertised sends cmd once the JVM advertises itself. OpenJ9 starts
// its attach API in a thread of its own ("Attach API initializer",
// eclipse-openj9/openj9 .../attach/target/AttachHandler.java), so an
// application can pass its readiness probe before its advertisement
// exists; until then the JVM is not "not OpenJ9", only not yet reachable.
func jcmdOnceAdvertised(ctx context.Context, j *CheckpointJob, cmd string) (string, error) {
	// The wait for the advertisement and the command have a bound each.
	deadline := time.Now().Add(openJ9AttachWait)
	for {
		out, err := openj9attach.JCmd(ctx, j.JVM.Pid, cmd, openj9attach.Options{Timeout: openJ9AttachWait, Log: j.Log})
		if !errors.Is(err, openj9attach.ErrNotOpenJ9) {
			return out, err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w (waited %s for the JVM's attach API)", err, openJ9AttachWait)
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-j.JVM.Done():
			return "", err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// awaitOpenJ9Dump waits for the JVM's own dump. While it runs, the CRIU
// that dumps is watched: its working directory is CRIU's work directory,
// where the log and stats-dump go, and it holds the image directory open
// (measured with criu 4.2.1: cwd is -W, an fd is -D). An application that
// dumps somewhere else than STASIS_IMAGE_DIR is named as soon as that is
// seen, instead of a verdict on a directory that stays empty. The verdict
// is stats-dump in the work directory, written after the dump started:
// never a log line, which OpenJ9's default level 2 does not write.
func awaitOpenJ9Dump(ctx context.Context, j *CheckpointJob, started time.Time) error {
	var site dumpSite
	logPath := func() string {
		if site.log != "" {
			return site.log
		}
		return filepath.Join(j.Dir, "criu.log")
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var over time.Time // when the seen dump ended with the JVM alive
	for done := false; !done; {
		select {
		case <-j.JVM.Done():
			done = true
		case <-ctx.Done():
			if err := site.mismatch(j.Dir); err != nil {
				return err
			}
			return withTail(fmt.Errorf("the JVM (pid %d) is still running: no checkpoint happened in time", j.JVM.Pid), logPath(), 10)
		case <-tick.C:
			s, running := findDumper(j.JVM.Pid)
			switch {
			case running:
				site, over = s, time.Time{}
			case site.imageDir == "" || !processAlive(j.JVM.Pid):
			case over.IsZero():
				over = time.Now()
			case time.Since(over) > 500*time.Millisecond:
				// The dump is over and the JVM runs on: it failed, or it
				// went elsewhere. No need to wait for the timeout.
				if err := site.mismatch(j.Dir); err != nil {
					return err
				}
				return withTail(fmt.Errorf("the dump failed and the JVM (pid %d) keeps running", j.JVM.Pid), logPath(), 10)
			}
		}
	}
	if err := site.mismatch(j.Dir); err != nil {
		return err
	}
	ws := j.JVM.Status()
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return withTail(fmt.Errorf("the JVM %s instead of being killed by its dump (status 137)", reaper.Describe(ws)), logPath(), 10)
	}
	if err := awaitNoChildren(ctx, j.Host); err != nil {
		return err
	}
	work := j.Dir
	if site.workDir != "" {
		work = site.workDir
	}
	if err := freshStatsDump(work, started); err != nil {
		if site.imageDir == "" {
			err = fmt.Errorf("%w (no CRIU was seen dumping: if the application's CRIUSupport uses another directory or setWorkDir, the image is not in STASIS_IMAGE_DIR=%s)", err, j.Dir)
		}
		return withTail(fmt.Errorf("the JVM died but %w", err), logPath(), 10)
	}
	return nil
}

// freshStatsDump is dumpSucceeded for a work directory stasis did not
// clean: the stats-dump must be from this dump.
func freshStatsDump(work string, started time.Time) error {
	if err := dumpSucceeded(work); err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(work, StatsDump))
	if err != nil {
		return fmt.Errorf("check the dump's %s: %w", StatsDump, err)
	}
	if st.ModTime().Before(started.Add(-time.Second)) {
		return fmt.Errorf("the %s in %s is from an earlier dump (%s): this one did not finish", StatsDump, work, st.ModTime().Format(time.RFC3339))
	}
	return nil
}

// dumpSite is where a running CRIU dump writes.
type dumpSite struct {
	imageDir, workDir, log string
}

func (s dumpSite) mismatch(want string) error {
	if s.imageDir == "" || sameDir(s.imageDir, want) {
		return nil
	}
	return fmt.Errorf("the application checkpointed into %s, not into STASIS_IMAGE_DIR=%s: stasis cannot restore that image. "+
		"Give CRIUSupport the directory from the environment: new CRIUSupport(Paths.get(System.getenv(\"STASIS_IMAGE_DIR\"))) "+
		"(stasis also passes -Dstasis.imageDir), or use STASIS_OPENJ9_API=crac with org.crac", s.imageDir, want)
}

func sameDir(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func (e *OpenJ9) Restore(ctx context.Context, j *RestoreJob) (*reaper.Process, error) {
	return criuRestore(ctx, j, e.RestoreLog())
}
