//go:build linux

package fakejdktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenJ9SelfCheckpoint: with -XX:+EnableCRIUSupport the application
// dumps itself into its own directory with the criu found on PATH, at
// CRIU's default log level 2 (criu.log without the success line, stats-dump
// written), status 137; OpenJ9 advertises attach in
// /tmp/.com_ibm_tools_attach, never /tmp/.java_pid; plain `criu restore`
// brings it back; OpenJ9's launcher restore exits 0 whatever the
// application's status.
func TestOpenJ9SelfCheckpoint(t *testing.T) {
	requireCRIU(t)
	home := Layout(t, OpenJ9)
	java := filepath.Join(home, "bin", "java")
	port, base := freePort(t), PIDBase()
	img := t.TempDir()
	ns := StartNS(t, home, base, []string{CRIUPath(home)}, t.TempDir(), java, "-XX:+EnableCRIUSupport",
		"-Dfake.checkpointAfter=1s", "-Dfake.checkpointDir="+img, fmt.Sprintf("-Dfake.port=%d", port))
	if got := get(t, port, "/count"); got != "1" {
		t.Fatalf("count = %q", got)
	}
	nspid := get(t, port, "/pid")
	// $TMPDIR when it is set (the double follows OpenJ9's IPC.getTmpDir), and
	// the JVM has the test's environment.
	attachDir := filepath.Join(os.TempDir(), ".com_ibm_tools_attach", nspid)
	t.Cleanup(func() { os.RemoveAll(attachDir) })
	if _, err := os.Stat(attachDir); err != nil {
		t.Errorf("OpenJ9 attach directory: %v", err)
	}
	if st := ns.Wait(t, 30*time.Second); st != "signal 9" {
		t.Fatalf("self-checkpointed JVM ended with %q, want signal 9\nstderr:\n%s", st, ns.Stderr)
	}
	if _, err := os.Stat("/tmp/.java_pid" + nspid); err == nil {
		t.Error("OpenJ9 double opened a HotSpot attach socket")
	}
	if log := readFile(t, filepath.Join(img, "criu.log")); log == "" || strings.Contains(log, "Dumping finished successfully") {
		t.Errorf("criu.log is not CRIU's level-2 log of a dump:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(img, "stats-dump")); err != nil {
		t.Errorf("no stats-dump after a successful dump: %v", err)
	}

	criu, _ := FindCRIU()
	plain := StartNS(t, home, 0, nil, img, criu, "restore", "-D", img, "--shell-job", "-v4", "-o", "plain-restore.log")
	if got := get(t, port, "/count"); got != "2" {
		t.Fatalf("count after plain criu restore = %q, want 2\nstderr:\n%s", got, plain.Stderr)
	}
	get(t, port, "/exit?code=5")
	if st := plain.Wait(t, 10*time.Second); st != "exit 0" {
		t.Errorf("foreground criu restore ended %q: CRIU exits 0 whatever the tree does", st)
	}

	// OpenJ9's launcher runs `criu restore -D DIR -v2 --shell-job` with
	// criu from PATH (criuhelpers.c).
	launcher := StartNS(t, home, 0, []string{CRIUPath(home)}, t.TempDir(), java, "-XX:CRaCRestoreFrom="+img)
	if got := get(t, port, "/count"); got != "2" {
		t.Fatalf("count after launcher restore = %q, want 2\nstderr:\n%s", got, launcher.Stderr)
	}
	get(t, port, "/exit?code=5")
	if st := launcher.Wait(t, 10*time.Second); st != "exit 0" || !strings.Contains(launcher.Stderr.String(), "Completed restore with -XX:CRaCRestoreFrom=PATH.") {
		t.Errorf("OpenJ9 launcher restore ended %q, want exit 0 (the app's 5 is lost) and its message\nstderr:\n%s", st, launcher.Stderr)
	}
}

// TestOpenJ9WithoutCRIUSupport: no -XX:+EnableCRIUSupport, no checkpoint.
func TestOpenJ9WithoutCRIUSupport(t *testing.T) {
	home := Layout(t, OpenJ9)
	img := t.TempDir()
	port := freePort(t)
	_, _, stderr := startJVM(t, home, []string{"FAKE_APP_CHECKPOINT_AFTER=10ms"}, "-Dfake.checkpointDir="+img, fmt.Sprintf("-Dfake.port=%d", port))
	waitFor(t, "the refusal", 5*time.Second, func() bool { return strings.Contains(stderr.String(), "CRaC or CRIU support is not enabled") })
	if got := get(t, port, "/count"); got != "1" {
		t.Errorf("count = %q", got)
	}
}

// TestOpenJ9BothModesRefused: OpenJ9 refuses -XX:+EnableCRIUSupport with
// -XX:CRaCCheckpointTo (runtime/vm/jvminit.c, JVMJ9VM237E).
func TestOpenJ9BothModesRefused(t *testing.T) {
	home := Layout(t, OpenJ9)
	code, out := runJava(t, filepath.Join(home, "bin", "java"), nil, "-XX:+EnableCRIUSupport", "-XX:CRaCCheckpointTo="+t.TempDir(), "Main")
	if code != 1 || !strings.Contains(out, "JVMJ9VM237E") {
		t.Fatalf("exit %d, output %q; want 1 and JVMJ9VM237E", code, out)
	}
}

// TestOpenJ9CRaCModeAndLogChoices: org.crac's Core.checkpointRestore() in
// CRaC mode dumps into -XX:CRaCCheckpointTo, with the log level and file of
// the -Dopenj9.internal.criu.* properties (InternalCRIUSupport.checkpointJVM
// reads them for every checkpoint); in CRIUSupport mode the
// application's setWorkDir, setLogFile and setLogLevel reach CRIU (log and
// stats-dump in the work directory, level 4 writes the success line).
func TestOpenJ9CRaCModeAndLogChoices(t *testing.T) {
	requireCRIU(t)
	home := Layout(t, OpenJ9)
	java := filepath.Join(home, "bin", "java")
	env := []string{CRIUPath(home)}

	img := t.TempDir()
	port := freePort(t)
	ns := StartNS(t, home, PIDBase(), env, t.TempDir(), java, "-XX:CRaCCheckpointTo="+img,
		"-Dopenj9.internal.criu.logLevel=4", "-Dopenj9.internal.criu.logFile=crac.log",
		"-Dfake.checkpointAfter=500ms", fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	if st := ns.Wait(t, 30*time.Second); st != "signal 9" {
		t.Fatalf("org.crac checkpoint ended %q\nstderr:\n%s", st, ns.Stderr)
	}
	if _, err := os.Stat(filepath.Join(img, "stats-dump")); err != nil {
		t.Errorf("CRaC mode did not dump into CRaCCheckpointTo: %v", err)
	}
	if log := readFile(t, filepath.Join(img, "crac.log")); !strings.Contains(log, "Dumping finished successfully") {
		t.Errorf("-Dopenj9.internal.criu.logFile=crac.log and logLevel=4 did not reach CRIU")
	}

	img, work := t.TempDir(), t.TempDir()
	port = freePort(t)
	ns = StartNS(t, home, PIDBase(), env, t.TempDir(), java, "-XX:+EnableCRIUSupport", "-Dfake.checkpointDir="+img,
		"-Dfake.criu.workDir="+work, "-Dfake.criu.logFile=logs", "-Dfake.criu.logLevel=4",
		"-Dfake.checkpointAfter=500ms", fmt.Sprintf("-Dfake.port=%d", port))
	get(t, port, "/count")
	if st := ns.Wait(t, 30*time.Second); st != "signal 9" {
		t.Fatalf("CRIUSupport checkpoint ended %q\nstderr:\n%s", st, ns.Stderr)
	}
	if log := readFile(t, filepath.Join(work, "logs")); !strings.Contains(log, "Dumping finished successfully") {
		t.Errorf("the level-4 log in the work directory lacks the success line")
	}
	if _, err := os.Stat(filepath.Join(work, "stats-dump")); err != nil {
		t.Errorf("no stats-dump in the work directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(img, "inventory.img")); err != nil {
		t.Errorf("no image in the image directory: %v", err)
	}
}
