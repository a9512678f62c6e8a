package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/internal/fakejdktest"
)

// These tests run the crac, warp and openj9 engines for real through the
// test double of those JDKs (testdata/fakejdk): stasis as PID 1 of fresh PID
// namespaces, the real CRIU underneath, the same scenarios as the criu
// engine's tests, plus each engine's own contract points (docs/runtimes.md).

// fakeService is one flavour of the double under stasis: its JDK home, its
// image and state directories, and the settings every run of it shares, as
// one container's environment would.
type fakeService struct {
	flavour string // a fakejdktest flavour: crac, crac-legacy, crac-static, warp, warp-default or openj9
	engine  string // STASIS_ENGINE
	// launcher: the restored JVM is the child of the restoring launcher
	// (crac); otherwise stasis's own child (openj9, restored by criu), or
	// the launcher itself (warp restores in place).
	launcher   bool
	path       string // PATH for stasis and the JVM: current CRaC builds find criu there
	keepsPID   bool
	home, java string
	dir, state string
	port       int
	minPID     int
	command    []string
	trigger    []string
	dumpLog    string
	runs       int // warp: stasis runs so far
}

// checkpointAfter is when the openj9 application checkpoints itself: long
// enough for the test to make its requests before, on a loaded machine.
const checkpointAfter = "6s"

// warmups is how many warm-up requests stasis makes to /count before a crac
// or warp checkpoint; the readiness probe asks "/", which counts nothing.
const warmups = 20

func newFakeService(t testing.TB, flavour, eng string) *fakeService {
	t.Helper()
	needCRIU(t)
	home := fakejdktest.Layout(t, flavour)
	base := t.TempDir()
	f := &fakeService{flavour: flavour, engine: eng, home: home, java: filepath.Join(home, "bin", "java"),
		dir: filepath.Join(base, "img"), state: filepath.Join(base, "state"), port: freePort(t),
		// A JVM of another test in another namespace may have the same PID,
		// and /tmp (attach sockets) is shared: keep away from the default.
		minPID:   5000 + rand.IntN(10000),
		launcher: flavour != "openj9" && flavour != "warp", keepsPID: flavour != "warp", dumpLog: "dump4.log",
		path: fakejdktest.CRIUDir(t) + ":" + os.Getenv("PATH")}
	f.command = []string{f.java, "-Dfake.port=" + strconv.Itoa(f.port), "-Dfake.tick=20ms"}
	if flavour == "openj9" {
		f.command = append(f.command, "-Dfake.checkpointAfter="+checkpointAfter)
		f.trigger = []string{"--checkpoint-on=app"}
		f.dumpLog = "criu.log"
	} else {
		f.trigger = []string{"--checkpoint-on=" + f.url("/"), "--warmup-url=" + f.url("/count"),
			"--warmup-requests=" + strconv.Itoa(warmups)}
	}
	t.Cleanup(f.cleanTmp)
	return f
}

// cleanTmp removes what a JVM killed by its dump leaves in the shared /tmp.
func (f *fakeService) cleanTmp() {
	for run := 0; run <= f.runs; run++ {
		base := f.minPID + 1000*run
		for p := base; p < base+30; p++ {
			// OpenJ9's common directory is in $TMPDIR when that is set (the double
			// follows IPC.getTmpDir), and the JVM has the test's environment.
			os.RemoveAll(filepath.Join(os.TempDir(), ".com_ibm_tools_attach", strconv.Itoa(p)))
			os.Remove(fmt.Sprintf("/tmp/.java_pid%d", p))
		}
	}
}

func (f *fakeService) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", f.port, path)
}

// start runs stasis for this service with extra environment and flags.
func (f *fakeService) start(t testing.TB, env []string, flags ...string) *stasisRun {
	t.Helper()
	args := append([]string{"--image-dir=" + f.dir, "--state-dir=" + f.state, "--engine=" + f.engine,
		"--min-pid=" + strconv.Itoa(f.minPID), "--stop-timeout=5s"}, f.trigger...)
	args = append(append(append(args, flags...), "--"), f.command...)
	// The double finds CRIU where the JDK would (PATH, or lib/criu in a
	// legacy build), stasis as well (no STASIS_CRIU). The directory is
	// --image-dir only: a CRIUSupport application reads STASIS_IMAGE_DIR,
	// which stasis puts in the JVM's environment itself.
	env = append([]string{"STASIS_CRIU=", "STASIS_IMAGE_DIR=", "PATH=" + f.path}, env...)
	return startNS(t, env, args...)
}

// startNSAfter is startNS with a shell script run first as PID 1, which
// then execs stasis (still PID 1).
func startNSAfter(t testing.TB, env []string, script string, stasisArgs ...string) *stasisRun {
	t.Helper()
	return startPID1Cmd(t, env, append([]string{"/bin/sh", "-c", script, "sh", stasisBin}, stasisArgs...)...)
}

// checkpoint makes the image in auto mode (no image yet: the checkpoint run)
// and returns the run and the counter value at the checkpoint.
func (f *fakeService) checkpoint(t testing.TB) (*stasisRun, int) {
	t.Helper()
	r := f.start(t, nil)
	count := warmups
	if f.flavour == "openj9" {
		count = f.countBeforeSelfCheckpoint(t, r)
	}
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint run exit %d, want 0\nstdout: %s\nstderr: %s", code, tailString(r.stdout.String(), 2000), r.stderr.String())
	}
	return r, count
}

// countBeforeSelfCheckpoint makes five requests as soon as the openj9
// application answers, well before it checkpoints itself.
func (f *fakeService) countBeforeSelfCheckpoint(t testing.TB, r *stasisRun) int {
	t.Helper()
	f.get(t, r, f.url("/count"), time.Minute)
	n := 1
	for ; n < 5; n++ {
		f.get(t, r, f.url("/count"), time.Second)
	}
	return n
}

// get is get with stasis's output when the service never answers.
func (f *fakeService) get(t testing.TB, r *stasisRun, url string, limit time.Duration) string {
	t.Helper()
	return getOr(t, r, url, limit)
}

func (f *fakeService) manifest(t testing.TB) (engine string, pid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "stasis.json"))
	if err != nil {
		t.Fatalf("no manifest after the checkpoint: %v", err)
	}
	var m struct {
		Engine string
		PID    int
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Engine, m.PID
}

func (f *fakeService) noManifest(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(f.dir, "stasis.json")); err == nil {
		t.Fatal("a manifest exists: the image looks restorable")
	}
}

// restoredJVM is the host PID of the restored JVM once its restore is
// over: stasis's child for openj9 (stasis waits for criu), the restoring
// launcher's only child for crac and warp. The launcher runs CRIU as a child,
// which makes the JVM its child too and detaches from it last: a JVM killed
// before that fails the restore.
func (f *fakeService) restoredJVM(t testing.TB, r *stasisRun) int {
	t.Helper()
	pid := jvmOf(t, r)
	if !f.launcher {
		return pid // openj9: stasis's child; warp: the launcher is the JVM
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		var children []string
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			children = append(children, strings.Fields(string(b))...)
		}
		if len(children) == 1 {
			cmdline, _ := os.ReadFile("/proc/" + children[0] + "/cmdline")
			if strings.Contains(string(cmdline), "-Dfake.port=") {
				n, _ := strconv.Atoi(children[0])
				return n
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the restoring launcher (pid %d) has no child\nstderr: %s", pid, r.stderr.String())
	return 0
}

var engineFlavours = []struct{ flavour, engine, detected string }{
	{"crac", "auto", "crac"},
	{"warp", "warp", "warp"},
	{"openj9", "auto", "openj9"},
}

// cracBuilds are the other CRaC builds the double models, each run through
// the whole cycle with STASIS_ENGINE=crac: a legacy build (lib/criuengine,
// lib/criu), a static JDK (no libjvm.so), and a build whose default engine
// is warp (stasis must pin CRIU).
var cracBuilds = []struct{ flavour, engine, detected string }{
	{"crac-legacy", "crac", "crac"},
	{"crac-static", "auto", "crac"},
	{"warp-default", "crac", "crac"},
}

// TestEnginesCheckpointAndRestore: one image per flavour, made after a probe
// and a warm-up (openj9: by the application itself), and every restore
// scenario run on it; the damaging ones last.
func TestEnginesCheckpointAndRestore(t *testing.T) {
	for _, tc := range append(engineFlavours, cracBuilds...) {
		t.Run(tc.flavour, func(t *testing.T) {
			f := newFakeService(t, tc.flavour, tc.engine)
			ck, count := f.checkpoint(t)
			if want := "engine=" + tc.detected; !strings.Contains(ck.stderr.String(), "launched for checkpoint") ||
				!strings.Contains(lineWith(ck.stderr.String(), "launched for checkpoint"), want) {
				t.Fatalf("STASIS_ENGINE=%s: the launch line does not say %s\nstderr: %s", tc.engine, want, ck.stderr.String())
			}
			if tc.engine == "auto" && !strings.Contains(lineWith(ck.stderr.String(), "engine chosen"), "why=") {
				t.Fatalf("STASIS_ENGINE=auto does not say which engine it chose and why:\n%s", ck.stderr.String())
			}
			eng, pid := f.manifest(t)
			if eng != tc.detected {
				t.Fatalf("manifest engine %q, want %q", eng, tc.detected)
			}
			if f.keepsPID && pid <= f.minPID {
				t.Fatalf("the JVM had pid %d at checkpoint, want above STASIS_MIN_PID=%d", pid, f.minPID)
			}
			if want := engineRecorded(tc.flavour); want == "" {
				if _, err := os.Stat(filepath.Join(f.dir, "engine")); err == nil {
					t.Fatalf("the image has an engine file, which %s does not write", tc.flavour)
				}
			} else if b, err := os.ReadFile(filepath.Join(f.dir, "engine")); err != nil || strings.TrimSpace(string(b)) != want {
				t.Fatalf("the image records engine %q (%v), want %q", b, err, want)
			}
			log, _ := os.ReadFile(filepath.Join(f.dir, f.dumpLog))
			switch {
			case f.flavour == "warp":
				if !strings.Contains(ck.stdout.String(), "warp: Checkpoint successful!") {
					t.Fatalf("no Warp success line:\n%s", tailString(ck.stdout.String(), 2000))
				}
			case f.flavour == "openj9" && (len(log) == 0 || strings.Contains(string(log), "Dumping finished successfully")):
				// OpenJ9's default: CRIU's level 2, no success line; the
				// verdict is stats-dump.
				t.Fatalf("%s is not a level-2 log of a dump:\n%s", f.dumpLog, tailString(string(log), 2000))
			default:
				if _, err := os.Stat(filepath.Join(f.dir, "stats-dump")); err != nil {
					t.Fatalf("no stats-dump: the dump did not finish (%v)", err)
				}
			}
			restoreScenarios(t, f, ck, count, pid)
		})
	}
}

// engineRecorded is what the JVM writes in DIR/engine: the resolved engine
// name (openjdk/crac crac_engine.cpp record_engine); OpenJ9 writes no such
// file ("").
func engineRecorded(flavour string) string {
	switch flavour {
	case "openj9":
		return ""
	case "warp":
		return "warp"
	}
	return "criuengine"
}

func lineWith(out, word string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, word) {
			return l
		}
	}
	return ""
}

func restoreScenarios(t *testing.T, f *fakeService, ck *stasisRun, count, pid int) {
	t.Run("state, pid and output continue; SIGTERM gives the JVM's status", func(t *testing.T) {
		r := f.start(t, nil, "--log-level=debug")
		if got := f.get(t, r, f.url("/count"), 20*time.Second); got != strconv.Itoa(count+1) {
			t.Fatalf("after restore GET /count = %s, want %d (state kept)\nstderr: %s", got, count+1, r.stderr.String())
		}
		r.waitOutput(t, "INF restored", 30*time.Second)
		if f.keepsPID {
			if got := f.get(t, r, f.url("/pid"), 10*time.Second); got != strconv.Itoa(pid) {
				t.Fatalf("restored JVM has pid %s, want %d", got, pid)
			}
		}
		if f.launcher && f.keepsPID {
			// The launcher runs CRIU as a child first: that is no restored JVM.
			if want := fmt.Sprintf("restored JVM is running pid=%d ", pid); !strings.Contains(r.stderr.String(), want) {
				t.Fatalf("stasis did not find the restored JVM by its PID (%q):\n%s", want, r.stderr.String())
			}
		}
		if f.launcher {
			// CRaC's `criu restore -W .` writes in the launcher's cwd, which
			// stasis makes its state directory.
			if _, err := os.Stat(filepath.Join(f.state, "stats-restore")); err != nil {
				t.Fatalf("CRIU's restore work files are not in the state directory: %v", err)
			}
		}
		if f.launcher {
			// stasis supervises the restoring launcher, not the JVM itself.
			if launcher, jvm := jvmOf(t, r), f.restoredJVM(t, r); launcher == jvm {
				t.Fatalf("the JVM %d is stasis's child: no restoring launcher", jvm)
			}
		}
		if f.flavour == "warp" {
			// Warp restores in place: the launcher is the application.
			launcher := jvmOf(t, r)
			if c := childrenOfPID(launcher); len(c) != 0 {
				t.Fatalf("the Warp launcher %d has children %v", launcher, c)
			}
		}
		// Legacy builds handed stdio over through the CRaC fork of CRIU,
		// which the double does not model: their output is not checked.
		legacy := f.flavour == "crac-legacy"
		if !legacy {
			r.waitOutput(t, "Restored fake app", 10*time.Second)
			last := lastNumber(ck.stdout.String(), "tick")
			r.waitOutput(t, fmt.Sprintf("tick %d\n", last+5), 30*time.Second)
		}
		syscall.Kill(r.hostPID, syscall.SIGTERM)
		if code := r.wait(t, time.Minute); code != 143 {
			t.Fatalf("exit %d after SIGTERM, want the JVM's 143\nstderr: %s", code, r.stderr.String())
		}
		if !legacy {
			checkContinuous(t, "tick", ck.stdout.String(), r.stdout.String())
		}
	})

	t.Run("SIGKILL of the restored JVM gives 137", func(t *testing.T) {
		r := f.start(t, nil)
		f.get(t, r, f.url("/count"), time.Minute)
		syscall.Kill(f.restoredJVM(t, r), syscall.SIGKILL)
		if code := r.wait(t, time.Minute); code != 137 {
			t.Fatalf("exit %d, want 137\nstderr: %s", code, r.stderr.String())
		}
	})

	t.Run("the application's own exit status after a restore", func(t *testing.T) {
		r := f.start(t, nil)
		r.waitOutput(t, "INF restored", time.Minute)
		f.get(t, r, f.url("/exit?code=7"), time.Minute)
		if code := r.wait(t, time.Minute); code != 7 {
			t.Fatalf("exit %d, want the JVM's 7\nstderr: %s", code, r.stderr.String())
		}
	})

	if f.flavour != "warp" && f.flavour != "openj9" {
		t.Run("early restore failure: auto mode starts cold", func(t *testing.T) {
			r := f.start(t, []string{"FAKE_CPU_MISMATCH=1"})
			coldAndTerm(t, f, r, "missing features of this CPU")
		})
		t.Run("early restore failure: fail exits 4", func(t *testing.T) {
			r := f.start(t, []string{"FAKE_CPU_MISMATCH=1"}, "--on-restore-failure=fail")
			if code := r.wait(t, time.Minute); code != 4 {
				t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
			}
			if !strings.Contains(r.stderr.String(), "missing features of this CPU") {
				t.Fatalf("the launcher's reason is not shown:\n%s", r.stderr.String())
			}
		})
	}

	if f.flavour == "warp" {
		fi, err := os.Stat(filepath.Join(f.dir, "core.img"))
		if err != nil {
			t.Fatal(err)
		}
		os.Truncate(filepath.Join(f.dir, "core.img"), fi.Size()/2)
	} else {
		damage(t, f.dir)
	}
	t.Run("damaged: auto mode starts cold and says why", func(t *testing.T) {
		coldAndTerm(t, f, f.start(t, nil), "bytes, the manifest says")
	})
	t.Run("damaged: fail exits 4", func(t *testing.T) {
		r := f.start(t, nil, "--on-restore-failure=fail")
		if code := r.wait(t, time.Minute); code != 4 {
			t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
		}
	})
}

// coldAndTerm checks a cold start after a failed restore: the service
// answers from a fresh counter, stasis names the reason, and SIGTERM ends it.
func coldAndTerm(t *testing.T, f *fakeService, r *stasisRun, reason string) {
	t.Helper()
	if got := f.get(t, r, f.url("/count"), time.Minute); got != "1" {
		t.Fatalf("GET /count = %s, want 1 from a cold JVM\nstderr: %s", got, r.stderr.String())
	}
	r.waitOutput(t, "starting cold", 10*time.Second)
	if !strings.Contains(r.stderr.String(), reason) {
		t.Fatalf("the reason (%q) is not named:\n%s", reason, r.stderr.String())
	}
	syscall.Kill(r.hostPID, syscall.SIGTERM)
	if code := r.wait(t, time.Minute); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143\nstderr: %s", code, r.stderr.String())
	}
}

// TestEnginesMissingImage: with no image, restore mode starts cold, or exits
// 4 with STASIS_ON_RESTORE_FAILURE=fail.
func TestEnginesMissingImage(t *testing.T) {
	for _, tc := range engineFlavours {
		t.Run(tc.flavour, func(t *testing.T) {
			f := newFakeService(t, tc.flavour, tc.engine)
			t.Run("cold", func(t *testing.T) {
				coldAndTerm(t, f, f.start(t, nil, "--mode=restore"), "stasis.json")
			})
			t.Run("fail exits 4", func(t *testing.T) {
				r := f.start(t, nil, "--mode=restore", "--on-restore-failure=fail")
				if code := r.wait(t, time.Minute); code != 4 {
					t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
				}
			})
		})
	}
}

// TestEnginesSIGKILLDuringDump kills stasis once the dump has begun (right
// before it starts CRIU the double writes CRaC's engine file, or for OpenJ9
// its own record of fds 0-2): no manifest may be left, and the next start
// checkpoints again.
func TestEnginesSIGKILLDuringDump(t *testing.T) {
	for _, tc := range engineFlavours {
		if tc.flavour == "warp" {
			// Warp's dump is one file written by the JVM (the double's
			// core.img): stasis may well finish between the engine file and
			// the kill, and a finished image is no failure.
			continue
		}
		t.Run(tc.flavour, func(t *testing.T) {
			f := newFakeService(t, tc.flavour, tc.engine)
			r := f.start(t, nil, "--mode=checkpoint")
			begun := "engine"
			if f.flavour == "openj9" {
				begun = "fakejdk-stdio"
			}
			waitFileExists(t, r, filepath.Join(f.dir, begun), 2*time.Minute)
			syscall.Kill(r.hostPID, syscall.SIGKILL)
			r.wait(t, time.Minute)
			f.noManifest(t)
			r = f.start(t, nil)
			if f.flavour == "openj9" {
				f.countBeforeSelfCheckpoint(t, r)
			}
			if code := r.wait(t, 3*time.Minute); code != 0 {
				t.Fatalf("next checkpoint run exit %d, want 0\nstderr: %s", code, r.stderr.String())
			}
			f.manifest(t)
		})
	}
}

// waitFileExists polls hard: the dump is a short window.
func waitFileExists(t testing.TB, r *stasisRun, path string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
	t.Fatalf("%s never appeared\nstderr: %s", path, r.stderr.String())
}

// TestEnginesCRaCCheckpointFailures: the JVM answers JDK.checkpoint before
// its engine runs, so stasis judges the outcome itself, and fails within
// seconds (not STASIS_CHECKPOINT_TIMEOUT) quoting the JVM's own line: a
// current build exits 1 when CRIU fails ("Restore cannot continue"), a
// legacy one runs on with CRIU's dump4.log, an engine that finds no criu
// fails before CRIU could open a log, and a JVM that refuses the checkpoint
// says why in its reply.
func TestEnginesCRaCCheckpointFailures(t *testing.T) {
	fast := func(t *testing.T, r *stasisRun, started time.Time) {
		t.Helper()
		if code := r.wait(t, 3*time.Minute); code != 3 {
			t.Fatalf("exit %d, want 3\nstderr: %s", code, r.stderr.String())
		}
		if d := time.Since(started); d > time.Minute {
			t.Fatalf("stasis took %s: it waited for the checkpoint timeout", d)
		}
	}
	t.Run("current build: CRIU fails after the reply, the JVM exits 1", func(t *testing.T) {
		f := newFakeService(t, "crac", "crac")
		started := time.Now()
		r := f.start(t, []string{"FAKE_DUMP_FAIL=1"}, "--mode=checkpoint", "--checkpoint-timeout=2m")
		fast(t, r, started)
		if errs := r.stderr.String(); !strings.Contains(errs, "Restore cannot continue, VM will exit.") || !strings.Contains(errs, "exit status 1") {
			t.Fatalf("stasis does not quote the JVM's line and status:\n%s", errs)
		}
		f.noManifest(t)
	})
	t.Run("legacy build: CRIU fails after the reply, the JVM runs on", func(t *testing.T) {
		f := newFakeService(t, "crac-legacy", "crac")
		started := time.Now()
		r := f.start(t, []string{"FAKE_DUMP_FAIL=1"}, "--mode=checkpoint", "--checkpoint-timeout=2m")
		fast(t, r, started)
		errs := r.stderr.String()
		if !strings.Contains(errs, "failed") || !strings.Contains(errs, "last lines of dump4.log") {
			t.Fatalf("stasis does not say the dump failed with the tail of dump4.log:\n%s", errs)
		}
		f.noManifest(t)
	})
	t.Run("the JVM killed by SIGKILL without a dump is no checkpoint", func(t *testing.T) {
		f := newFakeService(t, "crac", "crac")
		r := f.start(t, []string{"FAKE_DUMP_KILLED=1"}, "--mode=checkpoint", "--checkpoint-timeout=2m")
		fast(t, r, time.Now())
		if errs := r.stderr.String(); !strings.Contains(errs, "stats-dump") {
			t.Fatalf("stasis does not say CRIU wrote no stats-dump:\n%s", errs)
		}
		f.noManifest(t)
	})
	t.Run("no criu: the engine fails before CRIU opens its log", func(t *testing.T) {
		f := newFakeService(t, "crac", "crac")
		f.path = "/usr/bin:/bin"
		started := time.Now()
		r := f.start(t, nil, "--mode=checkpoint", "--checkpoint-timeout=2m")
		fast(t, r, started)
		if errs := r.stderr.String(); !strings.Contains(errs, "CRaC engine failed to checkpoint") || !strings.Contains(errs, "Cannot find CRIU") {
			t.Fatalf("stasis does not quote the JVM's engine failure:\n%s", errs)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "dump4.log")); err == nil {
			t.Fatal("a dump4.log exists: CRIU ran")
		}
		f.noManifest(t)
	})
	t.Run("refused checkpoint: exit 3 with the JVM's exception", func(t *testing.T) {
		f := newFakeService(t, "crac", "crac")
		open := filepath.Join(t.TempDir(), "held-open")
		if err := os.WriteFile(open, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := f.start(t, []string{"FAKE_OPEN_FILE=" + open}, "--mode=checkpoint", "--checkpoint-timeout=1m")
		if code := r.wait(t, 3*time.Minute); code != 3 {
			t.Fatalf("exit %d, want 3\nstderr: %s", code, r.stderr.String())
		}
		if errs := r.stderr.String(); !strings.Contains(errs, "CheckpointOpenFileException") || !strings.Contains(errs, open) {
			t.Fatalf("stasis does not pass on the JVM's exception naming %s:\n%s", open, errs)
		}
		f.noManifest(t)
	})
}

// TestEnginesCRaCMinPidWrapper: with -XX:CRaCMinPid above the launcher's
// PID, CRaC's launcher stays behind as a wrapper and the JVM is its child:
// stasis attaches to the JVM, records its PID, and restores it.
func TestEnginesCRaCMinPidWrapper(t *testing.T) {
	f := newFakeService(t, "crac", "crac")
	min := f.minPID + 3000
	f.command = append([]string{f.java, "-XX:CRaCMinPid=" + strconv.Itoa(min)}, f.command[1:]...)
	ck, count := f.checkpoint(t)
	_, pid := f.manifest(t)
	if pid <= min {
		t.Fatalf("manifest pid %d, want the JVM's, above CRaCMinPid=%d (not the wrapper's)\nstderr: %s", pid, min, ck.stderr.String())
	}
	r := f.start(t, nil)
	if got := f.get(t, r, f.url("/count"), 30*time.Second); got != strconv.Itoa(count+1) {
		t.Fatalf("after restore GET /count = %s, want %d", got, count+1)
	}
	if got := f.get(t, r, f.url("/pid"), 10*time.Second); got != strconv.Itoa(pid) {
		t.Fatalf("restored JVM has pid %s, want %d", got, pid)
	}
	syscall.Kill(r.hostPID, syscall.SIGTERM)
	if code := r.wait(t, time.Minute); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143\nstderr: %s", code, r.stderr.String())
	}
}

// TestEnginesOpenJ9NoCheckpointCommand: an OpenJ9 release without
// CRIU.checkpoint (the double's FAKE_OPENJ9_NO_CHECKPOINT_COMMAND) answers
// "not recognized" through OpenJ9's attach API, and stasis says which
// releases have it, and to use STASIS_CHECKPOINT_ON=app and how.
func TestEnginesOpenJ9NoCheckpointCommand(t *testing.T) {
	f := newFakeService(t, "openj9", "openj9")
	f.trigger = []string{"--checkpoint-on=" + f.url("/")}
	f.command = f.command[:len(f.command)-1] // no self-checkpoint
	r := f.start(t, []string{"FAKE_OPENJ9_NO_CHECKPOINT_COMMAND=1"}, "--mode=checkpoint", "--checkpoint-timeout=2m")
	if code := r.wait(t, 3*time.Minute); code != 3 {
		t.Fatalf("exit %d, want 3\nstderr: %s", code, r.stderr.String())
	}
	errs := r.stderr.String()
	if !strings.Contains(errs, "no CRIU.checkpoint command") || !strings.Contains(errs, "from 0.53.0") || !strings.Contains(errs, "STASIS_CHECKPOINT_ON=app") ||
		!strings.Contains(errs, `System.getenv("STASIS_IMAGE_DIR")`) {
		t.Fatalf("stasis does not say to use STASIS_CHECKPOINT_ON=app and how:\n%s", errs)
	}
	f.noManifest(t)
}

// TestEnginesOpenJ9Modes: an application with no stasis-specific code is
// checkpointed and restored through the double (real CRIU) in OpenJ9's
// other two ways, at OpenJ9's default CRIU log level, and its own exit
// status survives the restore:
//   - org.crac with -XX:CRaCCheckpointTo (STASIS_OPENJ9_API=crac), the
//     application calling Core.checkpointRestore();
//   - an HTTP readiness trigger and a warm-up, then CRIU.checkpoint sent
//     through OpenJ9's attach API (STASIS_OPENJ9_API=criusupport).
func TestEnginesOpenJ9Modes(t *testing.T) {
	for _, tc := range []struct {
		name, api  string
		appTrigger bool
	}{
		{"org.crac app trigger", "crac", true},
		{"http trigger and warm-up through OpenJ9 attach", "criusupport", false},
		{"JDK.checkpoint through OpenJ9 attach", "crac", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeService(t, "openj9", "openj9")
			count := warmups
			if !tc.appTrigger {
				// No self-checkpoint; OpenJ9's attach API comes up after
				// the application is ready (its own initializer thread).
				f.command = append(f.command[:len(f.command)-1], "-Dfake.attachInitDelay=1s")
				f.trigger = []string{"--checkpoint-on=" + f.url("/"), "--warmup-url=" + f.url("/count"),
					"--warmup-requests=" + strconv.Itoa(warmups)}
			}
			f.trigger = append(f.trigger, "--openj9-api="+tc.api)
			ck := f.start(t, nil)
			if tc.appTrigger {
				count = f.countBeforeSelfCheckpoint(t, ck)
			}
			if code := ck.wait(t, 3*time.Minute); code != 0 {
				t.Fatalf("checkpoint run exit %d, want 0\nstderr: %s", code, ck.stderr.String())
			}
			flag := "-XX:+EnableCRIUSupport"
			if tc.api == "crac" {
				flag = "-XX:CRaCCheckpointTo=" + f.dir
			}
			if !strings.Contains(ck.stderr.String(), "openj9 mode") || !strings.Contains(lineWith(ck.stderr.String(), "openj9 mode"), strings.SplitN(flag, "=", 2)[0]) {
				t.Errorf("stasis does not say which OpenJ9 mode (%s) it chose:\n%s", flag, ck.stderr.String())
			}
			if eng, _ := f.manifest(t); eng != "openj9" {
				t.Fatalf("manifest engine %q", eng)
			}
			log, _ := os.ReadFile(filepath.Join(f.dir, "criu.log"))
			if len(log) == 0 || strings.Contains(string(log), "Dumping finished successfully") {
				t.Fatalf("criu.log is not a level-2 log of a dump:\n%s", tailString(string(log), 2000))
			}
			r := f.start(t, nil)
			if got := f.get(t, r, f.url("/count"), time.Minute); got != strconv.Itoa(count+1) {
				t.Fatalf("after restore GET /count = %s, want %d\nstderr: %s", got, count+1, r.stderr.String())
			}
			r.waitOutput(t, "INF restored", 30*time.Second)
			f.get(t, r, f.url("/exit?code=7"), time.Minute)
			if code := r.wait(t, time.Minute); code != 7 {
				t.Fatalf("exit %d, want the application's 7\nstderr: %s", code, r.stderr.String())
			}
		})
	}
}

// TestEnginesOpenJ9ElsewhereAndLogs: a CRIUSupport application that dumps
// into its own directory is named, instead of a verdict on an empty
// STASIS_IMAGE_DIR; one that moves CRIU's work directory and log
// (setWorkDir, setLogFile("logs") as IBM's samples do) is judged by the
// stats-dump there, and its log is quoted when the dump fails.
func TestEnginesOpenJ9ElsewhereAndLogs(t *testing.T) {
	t.Run("dump into another directory", func(t *testing.T) {
		f := newFakeService(t, "openj9", "openj9")
		other := t.TempDir()
		f.command = append(f.command, "-Dfake.checkpointDir="+other)
		r := f.start(t, nil, "--mode=checkpoint", "--checkpoint-timeout=2m")
		f.countBeforeSelfCheckpoint(t, r)
		if code := r.wait(t, 3*time.Minute); code != 3 {
			t.Fatalf("exit %d, want 3\nstderr: %s", code, r.stderr.String())
		}
		if errs := r.stderr.String(); !strings.Contains(errs, "checkpointed into "+other) || !strings.Contains(errs, "STASIS_IMAGE_DIR="+f.dir) {
			t.Fatalf("stasis does not name the directory the application used:\n%s", errs)
		}
		f.noManifest(t)
	})
	work := t.TempDir()
	f := newFakeService(t, "openj9", "openj9")
	f.command = append(f.command, "-Dfake.criu.workDir="+work, "-Dfake.criu.logFile=logs")
	t.Run("work directory and log file of the application's choice", func(t *testing.T) {
		r := f.start(t, nil, "--mode=checkpoint", "--checkpoint-timeout=2m")
		f.countBeforeSelfCheckpoint(t, r)
		if code := r.wait(t, 3*time.Minute); code != 0 {
			t.Fatalf("exit %d, want 0\nstderr: %s", code, r.stderr.String())
		}
		if _, err := os.Stat(filepath.Join(work, "stats-dump")); err != nil {
			t.Fatalf("CRIU wrote no stats-dump in the work directory: %v", err)
		}
		f.manifest(t)
	})
	t.Run("failed dump quotes the application's log", func(t *testing.T) {
		r := f.start(t, []string{"FAKE_DUMP_FAIL=1"}, "--mode=checkpoint", "--checkpoint-timeout=30s")
		f.countBeforeSelfCheckpoint(t, r)
		if code := r.wait(t, 3*time.Minute); code != 3 {
			t.Fatalf("exit %d, want 3\nstderr: %s", code, r.stderr.String())
		}
		if errs := r.stderr.String(); !strings.Contains(errs, "last lines of logs") {
			t.Fatalf("stasis does not quote the application's CRIU log %s/logs:\n%s", work, errs)
		}
		f.noManifest(t)
	})
}

// TestJCmdOpenJ9: `stasis jcmd` speaks OpenJ9's attach protocol to a JVM
// that advertises itself in OpenJ9's attach directory (the double's target
// side): the result on stdout and exit 0, an error reply on stderr and exit
// 1, as `stasis jcmd` does for HotSpot.
func TestJCmdOpenJ9(t *testing.T) {
	home := fakejdktest.Layout(t, fakejdktest.OpenJ9)
	port := freePort(t)
	jvm := exec.Command(filepath.Join(home, "bin", "java"), "-XX:+EnableCRIUSupport", "-Dfake.port="+strconv.Itoa(port), "Main")
	// A temporary directory of its own: OpenJ9 advertises itself in $TMPDIR's
	// .com_ibm_tools_attach (IPC.getTmpDir), which stasis jcmd reads from the
	// JVM's environment; nothing is left in the shared /tmp.
	tmp := t.TempDir()
	jvm.Env = append(os.Environ(), "TMPDIR="+tmp)
	if err := jvm.Start(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(jvm.Process.Pid)
	t.Cleanup(func() {
		jvm.Process.Kill()
		jvm.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(tmp, ".com_ibm_tools_attach", pid, "attachInfo")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the double never advertised itself")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command(stasisBin, "jcmd", pid, "GC.run").CombinedOutput()
	if err != nil || string(out) != "Command succeeded\n" {
		t.Fatalf("stasis jcmd %s GC.run: %v, %q", pid, err, out)
	}
	// OpenJ9 registers JDK.checkpoint only in CRaC mode (DiagnosticUtils).
	cmd := exec.Command(stasisBin, "jcmd", pid, "JDK.checkpoint")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "Command JDK.checkpoint not recognized") {
		t.Fatalf("JDK.checkpoint outside CRaC mode: exit %d, %q", cmd.ProcessState.ExitCode(), out)
	}
	cmd = exec.Command(stasisBin, "jcmd", pid, "No.such")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "Command No.such not recognized") {
		t.Fatalf("unknown command: exit %d, %q", cmd.ProcessState.ExitCode(), out)
	}
}

func childrenOfPID(pid int) []string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []string
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// TestEnginesCRaCEngineOptionsAtRestore: -XX:CRaCEngineOptions apply at
// restore too (criu_location here, with no criu on PATH): stasis passes the
// user's options on to the restoring launcher.
func TestEnginesCRaCEngineOptionsAtRestore(t *testing.T) {
	f := newFakeService(t, "crac", "crac")
	criu, err := fakejdktest.FindCRIU()
	if err != nil {
		t.Skip(err)
	}
	f.path = "/usr/bin:/bin"
	f.command = append([]string{f.java, "-XX:CRaCEngineOptions=criu_location=" + criu}, f.command[1:]...)
	_, count := f.checkpoint(t)
	r := f.start(t, nil)
	if got := f.get(t, r, f.url("/count"), 30*time.Second); got != strconv.Itoa(count+1) {
		t.Fatalf("after restore GET /count = %s, want %d\nstderr: %s", got, count+1, r.stderr.String())
	}
	syscall.Kill(r.hostPID, syscall.SIGTERM)
	if code := r.wait(t, time.Minute); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143\nstderr: %s", code, r.stderr.String())
	}
}

// An engine named explicitly on a JDK recognised as another flavour is a
// configuration error before anything starts: warp's flags are CRaC's, so
// warp on a plain HotSpot JDK is refused as crac is (the engine's facts say
// which JDK it needs, not a comparison of its name).
func TestEngineNamedForAnotherJDK(t *testing.T) {
	home := fakejdktest.Layout(t, fakejdktest.HotSpot)
	// A criu is found (never run), so that openj9, which restores with
	// stasis's criu, is refused for its JDK and not for want of a criu.
	criu := filepath.Join(t.TempDir(), "criu")
	if err := os.WriteFile(criu, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{{"crac", "not a crac JDK"}, {"warp", "not a crac JDK"}, {"openj9", "not an openj9 JDK"}} {
		name := tc.name
		dir := filepath.Join(t.TempDir(), "image")
		cmd := exec.Command(stasisBin, "--mode=checkpoint", "--engine="+name, "--image-dir="+dir, "--checkpoint-on=manual",
			"--", filepath.Join(home, "bin", "java"), "-version")
		cmd.Env = append(os.Environ(), "STASIS_CRIU="+criu)
		code, out := runOutput(t, cmd)
		if code != 2 || !strings.Contains(out, "STASIS_ENGINE") || !strings.Contains(out, tc.want) {
			t.Errorf("STASIS_ENGINE=%s on a HotSpot JDK: exit %d: %s", name, code, out)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("STASIS_ENGINE=%s: the image directory was created (%v)", name, err)
		}
	}
}

// OpenJ9 runs CRIU's dump privileged unless the command sets
// -Dopenj9.internal.criu.unprivilegedMode=true (testdata/fakejdk follows
// eclipse-openj9/openj9 InternalCRIUSupport.java). In a container with
// CHECKPOINT_RESTORE and NET_ADMIN but not SYS_ADMIN, stasis refuses the
// privileged dump before the JVM starts, naming SYS_ADMIN and the property;
// with the property, the real CRIU's unprivileged dump succeeds there and
// the image restores. Before, the preflight let the privileged dump start
// (it asked for CHECKPOINT_RESTORE and SETPCAP), and CRIU failed late.
func TestEnginesOpenJ9DumpMode(t *testing.T) {
	caps := append(leastCaps(), "net_admin")
	run := func(t *testing.T, f *fakeService) *stasisRun {
		argv := append(capshKeeping(t, caps...), "--image-dir="+f.dir, "--state-dir="+f.state, "--engine=openj9",
			"--min-pid="+strconv.Itoa(f.minPID), "--stop-timeout=5s")
		argv = append(append(append(argv, f.trigger...), "--"), f.command...)
		return startPID1Cmd(t, []string{"STASIS_CRIU=", "STASIS_IMAGE_DIR=", "PATH=" + f.path, "KUBERNETES_SERVICE_HOST="}, argv...)
	}
	t.Run("privileged: refused before the JVM starts", func(t *testing.T) {
		f := newFakeService(t, "openj9", "openj9")
		r := run(t, f)
		code := r.wait(t, time.Minute)
		errs := r.stderr.String()
		if code == 0 || !strings.Contains(errs, "capability SYS_ADMIN missing") || !strings.Contains(errs, "unprivilegedMode=true") {
			t.Fatalf("privileged OpenJ9 dump without SYS_ADMIN: exit %d, want a refusal naming SYS_ADMIN and the property\nstderr: %s", code, errs)
		}
		if strings.Contains(r.stdout.String(), "request") || strings.Contains(errs, "launched") {
			t.Errorf("the JVM started:\nstdout: %s\nstderr: %s", r.stdout.String(), errs)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "stasis.json")); err == nil {
			t.Error("a manifest was written")
		}
	})
	t.Run("unprivileged: CRIU --unprivileged dumps, the image restores", func(t *testing.T) {
		f := newFakeService(t, "openj9", "openj9")
		f.command = append(f.command, "-Dopenj9.internal.criu.unprivilegedMode=true")
		r := run(t, f)
		count := f.countBeforeSelfCheckpoint(t, r)
		if code := r.wait(t, 3*time.Minute); code != 0 {
			log, _ := os.ReadFile(filepath.Join(f.dir, "criu.log"))
			t.Fatalf("unprivileged OpenJ9 dump with %v: exit %d\nstderr: %s\ncriu.log: %s", caps, code, r.stderr.String(), tailString(string(log), 2000))
		}
		if eng, _ := f.manifest(t); eng != "openj9" {
			t.Fatalf("manifest engine %q", eng)
		}
		r = run(t, f)
		if got := f.get(t, r, f.url("/count"), time.Minute); got != strconv.Itoa(count+1) {
			t.Fatalf("after restore GET /count = %s, want %d\nstderr: %s", got, count+1, r.stderr.String())
		}
		stopWant143(t, r)
	})
}
