//go:build linux

package fakejdktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/internal/linux"
)

// TestCheckpointRestoreCRaC is the whole CRaC cycle with the real jcmd and
// the real CRIU, for a current build (CRIU on PATH, restore through
// `criu restore … --exec-cmd -- criuhelper restorewait` in the launcher's
// own process) and a legacy one (lib/criu, lib/criuengine): checkpoint
// (status 137, image, dump4.log, the dumper reaped by init), then restores
// in fresh namespaces: the counter goes on, the PID is kept, stdout is
// handed over, and restorewait forwards signals and takes the JVM's exit
// status, re-raising a killing signal.
func TestCheckpointRestoreCRaC(t *testing.T) {
	requireCRIU(t)
	requireJcmd(t)
	for _, flavour := range []string{CRaC, CRaCLegacy} {
		t.Run(flavour, func(t *testing.T) { checkpointRestore(t, flavour) })
	}
}

func checkpointRestore(t *testing.T, flavour string) {
	home := Layout(t, flavour)
	port, base := freePort(t), PIDBase()
	img, nspid := checkpointedImage(t, home, port, base)
	for _, f := range []string{"dump4.log", "engine", "inventory.img", "pstree.img", "stats-dump", "perfdata", "tags"} {
		if _, err := os.Stat(filepath.Join(img, f)); err != nil {
			t.Errorf("image lacks %s: %v", f, err)
		}
	}
	if e := readFile(t, filepath.Join(img, "engine")); e != "criuengine" {
		t.Errorf("engine = %q, want criuengine (crac_engine.cpp record_engine)", e)
	}
	for _, f := range []string{"fakejdk-stdio", ".fakejdk-dump-result", "restore.log"} {
		if _, err := os.Stat(filepath.Join(img, f)); err == nil {
			t.Errorf("the double wrote %s, which no runtime writes", f)
		}
	}
	restore := func() *NS {
		ns := StartNS(t, home, 0, criuPathEnv(t), t.TempDir(), filepath.Join(home, "bin", "java"), "-XX:CRaCRestoreFrom="+img)
		if got := get(t, port, "/count"); got != "4" {
			t.Fatalf("count after restore = %q, want 4 (the checkpoint's 3 + 1)\nstderr:\n%s", got, ns.Stderr)
		}
		if got := get(t, port, "/pid"); got != nspid {
			t.Errorf("restored pid = %s, want %s (CRaC keeps PIDs)", got, nspid)
		}
		// restorewait forwards signals once its handlers are installed.
		launcher := ns.ChildPID(t)
		waitFor(t, "restorewait to catch SIGTERM and wait for the JVM", 10*time.Second, func() bool {
			return linux.Catches(launcher, int(syscall.SIGTERM)) && waitsForChild(launcher)
		})
		return ns
	}

	t.Run("perfdata: in the image, and let go by the restored JVM", func(t *testing.T) {
		perf := filepath.Join(img, "perfdata")
		before := readFile(t, perf)
		ns := restore()
		jvm := jvmHostPID(t, ns, nspid)
		waitFor(t, "the restored JVM to remap its PerfData to /tmp", 5*time.Second, func() bool {
			maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", jvm))
			return !strings.Contains(string(maps), perf) && strings.Contains(string(maps), "/tmp/hsperfdata_")
		})
		time.Sleep(200 * time.Millisecond) // ticks go on, into /tmp
		if readFile(t, perf) != before {
			t.Errorf("the restored JVM changed %s", perf)
		}
		syscall.Kill(ns.ChildPID(t), syscall.SIGTERM)
		ns.Wait(t, 10*time.Second)
	})
	t.Run("the launcher becomes criu, then restorewait, the JVM its child", func(t *testing.T) {
		ns := restore()
		launcher := ns.ChildPID(t)
		want := "criuhelper"
		if flavour == CRaCLegacy {
			want = "criuengine"
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", launcher))
		if got := strings.ReplaceAll(string(cmdline), "\x00", " "); !strings.Contains(got, want+" restorewait") {
			t.Errorf("the launcher's pid runs %q, want %s restorewait", got, want)
		}
		if jvm := jvmHostPID(t, ns, nspid); jvm == launcher {
			t.Errorf("the JVM is the launcher itself")
		}
		syscall.Kill(launcher, syscall.SIGTERM)
		ns.Wait(t, 10*time.Second)
	})
	t.Run("stdout handed over, SIGTERM forwarded, exit 143", func(t *testing.T) {
		ns := restore()
		// Legacy builds relied on the CRaC fork of CRIU for the hand-over,
		// which the double does not model.
		waitFor(t, "ticks on the restoring process's stdout", 5*time.Second, func() bool {
			return flavour == CRaCLegacy || strings.Contains(ns.Stdout.String(), "Restored fake app") && strings.Contains(ns.Stdout.String(), "tick")
		})
		syscall.Kill(ns.ChildPID(t), syscall.SIGTERM)
		if st := ns.Wait(t, 10*time.Second); st != "exit 143" {
			t.Errorf("restoring process ended with %q, want exit 143", st)
		}
	})
	t.Run("exit code passed through", func(t *testing.T) {
		ns := restore()
		get(t, port, "/exit?code=7")
		if st := ns.Wait(t, 10*time.Second); st != "exit 7" {
			t.Errorf("restoring process ended with %q, want exit 7", st)
		}
	})
	t.Run("killing signal re-raised", func(t *testing.T) {
		ns := restore()
		syscall.Kill(jvmHostPID(t, ns, nspid), syscall.SIGKILL)
		if st := ns.Wait(t, 10*time.Second); st != "signal 9" {
			t.Errorf("restoring process ended with %q, want signal 9", st)
		}
	})
	t.Run("SIGKILL of restorewait leaves the JVM running", func(t *testing.T) {
		// Nothing sets a parent-death signal (criuhelper.c restorewait).
		ns := restore()
		jvm := jvmHostPID(t, ns, nspid)
		syscall.Kill(ns.ChildPID(t), syscall.SIGKILL)
		time.Sleep(300 * time.Millisecond)
		if syscall.Kill(jvm, 0) != nil {
			t.Errorf("the restored JVM died with its restoring process")
		}
		syscall.Kill(jvm, syscall.SIGKILL)
		ns.Wait(t, 10*time.Second)
	})
}

// TestWarpInPlace: Warp needs no CRIU; its checkpoint prints its success
// line and leaves core.img, and its restore carries on in the restoring
// process itself (no child), with its own PID.
func TestWarpInPlace(t *testing.T) {
	requireJcmd(t)
	RequireNamespaces(t)
	home := Layout(t, Warp)
	port, base := freePort(t), PIDBase()
	img := filepath.Join(t.TempDir(), "img")
	java := filepath.Join(home, "bin", "java")
	// No CRIU on PATH: Warp does not use it.
	ns := StartNS(t, home, base, []string{"PATH=/usr/bin:/bin"}, t.TempDir(), java, "-XX:CRaCCheckpointTo="+img, "-XX:CRaCEngine=warp",
		fmt.Sprintf("-Dfake.port=%d", port), "-Dfake.tick=50ms")
	for i := 1; i <= 3; i++ {
		get(t, port, "/count")
	}
	if out, err := jcmd(t, ns.ChildPID(t), "JDK.checkpoint"); err != nil {
		t.Fatalf("jcmd JDK.checkpoint: %v\n%s", err, out)
	}
	if st := ns.Wait(t, 30*time.Second); st != "signal 9" || !strings.Contains(ns.Stdout.String(), "warp: Checkpoint successful!") {
		t.Fatalf("warp checkpoint ended with %q, stdout:\n%s", st, ns.Stdout)
	}
	if e := readFile(t, filepath.Join(img, "engine")); e != "warp" {
		t.Fatalf("engine = %q, want warp", e)
	}
	for _, f := range []string{"core.img"} {
		if _, err := os.Stat(filepath.Join(img, f)); err != nil {
			t.Errorf("warp image lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(img, "stats-dump")); err == nil {
		t.Errorf("a warp image has CRIU's stats-dump")
	}
	wrong := StartNS(t, home, 0, nil, t.TempDir(), java, "-XX:CRaCRestoreFrom="+img)
	if st := wrong.Wait(t, 10*time.Second); st != "exit 1" || !strings.Contains(wrong.Stderr.String(), "saved image with engine warp") {
		t.Errorf("restore with engine criu: %q, stderr:\n%s", st, wrong.Stderr)
	}
	ns = StartNS(t, home, 0, []string{"PATH=/usr/bin:/bin"}, t.TempDir(), java, "-XX:CRaCRestoreFrom="+img, "-XX:CRaCEngine=warp")
	if got := get(t, port, "/count"); got != "4" {
		t.Fatalf("count after warp restore = %q, want 4\nstderr:\n%s", got, ns.Stderr)
	}
	launcher := ns.ChildPID(t)
	if got, want := get(t, port, "/pid"), nsPIDOf(t, launcher); got != want {
		t.Errorf("the application runs in pid %s, want the restoring process %s itself", got, want)
	}
	if c := linux.Children(launcher); len(c) != 0 {
		t.Errorf("the restoring process has children %v: Warp restores in place", c)
	}
	if !strings.Contains(ns.Stdout.String(), "warp: Restore successful!") {
		t.Errorf("no warp success line:\n%s", ns.Stdout)
	}
	get(t, port, "/exit?code=3")
	if st := ns.Wait(t, 10*time.Second); st != "exit 3" {
		t.Errorf("warp restore ended with %q, want exit 3", st)
	}
}

func nsPIDOf(t *testing.T, host int) string {
	t.Helper()
	n, err := nsPID(host)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(n)
}

// TestRestoreEarlyFailures: bad images and flags exit 1 before CRIU runs; a
// CRIU failure shows CRIU's own message on stderr (no restore.log).
func TestRestoreEarlyFailures(t *testing.T) {
	home := Layout(t, CRaC)
	java := filepath.Join(home, "bin", "java")
	img := t.TempDir()
	os.WriteFile(filepath.Join(img, "engine"), []byte("criuengine"), 0o644)
	notDir := filepath.Join(img, "engine")
	cases := []struct {
		name string
		env  []string
		args []string
		want string
		code int
	}{
		{"not restore-settable", nil, []string{"-XX:CRaCRestoreFrom=" + img, "-XX:NativeMemoryTracking=summary"}, "VM option 'NativeMemoryTracking' is not restore-settable", 1},
		{"heap size not restore-settable", nil, []string{"-Xmx1g", "-XX:CRaCRestoreFrom=" + img}, "is not restore-settable", 1},
		{"wrong engine", nil, []string{"-XX:CRaCRestoreFrom=" + img, "-XX:CRaCEngine=warp"}, "saved image with engine criuengine, restoring with warp", 1},
		{"not a directory", nil, []string{"-XX:CRaCRestoreFrom=" + notDir}, "is not a directory", 1},
		{"missing", nil, []string{"-XX:CRaCRestoreFrom=" + img + "/nope"}, "Cannot open CRaCRestoreFrom", 1},
		{"cpu mismatch", []string{"FAKE_CPU_MISMATCH=1"}, []string{"-XX:CRaCRestoreFrom=" + img}, "missing features of this CPU", 1},
		{"no criu on PATH", []string{"PATH=/nonexistent"}, []string{"-XX:CRaCRestoreFrom=" + img}, "Cannot find CRIU executable on the PATH", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stderr := runJava(t, java, c.env, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q", code, stderr, c.code, c.want)
			}
		})
	}
	t.Run("criu fails", func(t *testing.T) {
		requireCRIU(t)
		// A generic image passes the CPU check; CRIU then finds no image.
		os.WriteFile(filepath.Join(img, "tags"), []byte("bitmap:cpu.features=0000000000000000\n"), 0o644)
		code, stderr := runJava(t, java, append(criuPathEnv(t), "FAKE_CPU_MISMATCH=1"), "-XX:CRaCRestoreFrom="+img)
		if code == 0 || !strings.Contains(stderr, "Error") {
			t.Errorf("exit %d, stderr %q; want CRIU's failure on stderr", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(img, "restore.log")); err == nil {
			t.Errorf("a restore.log was written: CRaC's restore logs to stderr")
		}
	})
}

func runJava(t *testing.T, java string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := execCommand(java, env, args...)
	cmd.Dir = t.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func jvmHostPID(t *testing.T, ns *NS, nspid string) int {
	t.Helper()
	n, _ := strconv.Atoi(nspid)
	return ns.WaitHostPID(t, n, 5*time.Second)
}

// waitsForChild says whether a thread of pid is blocked in wait4: the
// double's restorewait (Go) has signal handlers from its runtime's start,
// before its own are registered; once it waits for the JVM they are.
func waitsForChild(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, task := range tasks {
		if b, _ := os.ReadFile(task); strings.TrimSpace(string(b)) == "do_wait" {
			return true
		}
	}
	return false
}
