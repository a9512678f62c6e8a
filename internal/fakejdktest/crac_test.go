package fakejdktest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckpointRestoreCRaC is the whole CRaC cycle with the real jcmd and
// the real CRIU: checkpoint (status 137, image, dump4.log, the dumper reaped
// by init), then restores in fresh namespaces: the counter goes on, the PID
// is kept, stdout pipes are handed over, and the restoring process forwards
// signals and takes the JVM's exit status, re-raising a killing signal.
func TestCheckpointRestoreCRaC(t *testing.T) {
	requireCRIU(t)
	requireJcmd(t)
	home := Layout(t, CRaC)
	port, base := freePort(t), PIDBase()
	img, nspid := checkpointedImage(t, home, port, base)
	for _, f := range []string{"dump4.log", "engine", "inventory.img", "pstree.img"} {
		if _, err := os.Stat(filepath.Join(img, f)); err != nil {
			t.Errorf("image lacks %s: %v", f, err)
		}
	}
	if e := strings.TrimSpace(readFile(t, filepath.Join(img, "engine"))); e != "criu" {
		t.Errorf("engine = %q, want criu", e)
	}
	if !strings.Contains(readFile(t, filepath.Join(img, "dump4.log")), "Dumping finished successfully") {
		t.Errorf("dump4.log does not report success")
	}
	restore := func() *NS {
		ns := StartNS(t, home, 0, nil, t.TempDir(), filepath.Join(home, "bin", "java"), "-XX:CRaCRestoreFrom="+img)
		if got := get(t, port, "/count"); got != "4" {
			t.Fatalf("count after restore = %q, want 4 (the checkpoint's 3 + 1)\nstderr:\n%s", got, ns.Stderr)
		}
		if got := get(t, port, "/pid"); got != nspid {
			t.Errorf("restored pid = %s, want %s (CRaC keeps PIDs)", got, nspid)
		}
		return ns
	}

	t.Run("stdout pipe handed over, SIGTERM forwarded, exit 143", func(t *testing.T) {
		ns := restore()
		waitFor(t, "ticks on the restoring process's stdout", 5*time.Second, func() bool {
			return strings.Contains(ns.Stdout.String(), "Restored fake app") && strings.Contains(ns.Stdout.String(), "tick")
		})
		restorer := ns.ChildPID(t)
		syscall.Kill(restorer, syscall.SIGTERM)
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
	t.Run("SIGKILL of the restoring process kills the JVM", func(t *testing.T) {
		ns := restore()
		jvm := jvmHostPID(t, ns, nspid)
		syscall.Kill(ns.ChildPID(t), syscall.SIGKILL)
		ns.Wait(t, 10*time.Second)
		waitFor(t, "the restored JVM to die", 5*time.Second, func() bool {
			return syscall.Kill(jvm, 0) != nil
		})
	})
}

// TestWarpEngine: the image records its engine, and restoring with another
// engine fails early.
func TestWarpEngine(t *testing.T) {
	requireCRIU(t)
	requireJcmd(t)
	home := Layout(t, Warp)
	port, base := freePort(t), PIDBase()
	img, _ := checkpointedImage(t, home, port, base, "-XX:CRaCEngine=warp")
	if e := strings.TrimSpace(readFile(t, filepath.Join(img, "engine"))); e != "warp" {
		t.Fatalf("engine = %q, want warp", e)
	}
	java := filepath.Join(home, "bin", "java")
	wrong := StartNS(t, home, 0, nil, t.TempDir(), java, "-XX:CRaCRestoreFrom="+img)
	if st := wrong.Wait(t, 10*time.Second); st != "exit 1" || !strings.Contains(wrong.Stderr.String(), "made by engine warp") {
		t.Errorf("restore with engine criu: %q, stderr:\n%s", st, wrong.Stderr)
	}
	ns := StartNS(t, home, 0, nil, t.TempDir(), java, "-XX:CRaCRestoreFrom="+img, "-XX:CRaCEngine=warp")
	if got := get(t, port, "/count"); got != "4" {
		t.Fatalf("count after warp restore = %q, want 4", got)
	}
	get(t, port, "/exit?code=3")
	if st := ns.Wait(t, 10*time.Second); st != "exit 3" {
		t.Errorf("warp restore ended with %q, want exit 3", st)
	}
}

// TestRestoreEarlyFailures: bad images and flags exit 1 before CRIU runs; a
// CRIU failure exits with CRIU's status and says "Restoring FAILED.".
func TestRestoreEarlyFailures(t *testing.T) {
	home := Layout(t, CRaC)
	java := filepath.Join(home, "bin", "java")
	img := t.TempDir()
	os.WriteFile(filepath.Join(img, "engine"), []byte("criu\n"), 0o644)
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
		{"wrong engine", nil, []string{"-XX:CRaCRestoreFrom=" + img, "-XX:CRaCEngine=warp"}, "made by engine criu", 1},
		{"not a directory", nil, []string{"-XX:CRaCRestoreFrom=" + notDir}, "is not a directory", 1},
		{"missing", nil, []string{"-XX:CRaCRestoreFrom=" + img + "/nope"}, "Cannot open CRaCRestoreFrom", 1},
		{"cpu mismatch", []string{"FAKE_CPU_MISMATCH=1"}, []string{"-XX:CRaCRestoreFrom=" + img}, "missing features of this CPU", 1},
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
		if _, err := FindCRIU(); err != nil {
			t.Skip(err.Error())
		}
		// A generic image passes the CPU check; CRIU then finds no image.
		os.WriteFile(filepath.Join(img, "cpufeatures"), []byte("generic\n"), 0o644)
		code, stderr := runJava(t, java, []string{"FAKE_CPU_MISMATCH=1"}, "-XX:CRaCRestoreFrom="+img)
		if code == 0 || code == 1 && !strings.Contains(stderr, "Restoring FAILED.") {
			t.Errorf("exit %d, stderr %q; want CRIU's failure and Restoring FAILED.", code, stderr)
		}
		if !strings.Contains(stderr, "Restoring FAILED.") {
			t.Errorf("stderr lacks Restoring FAILED.: %q", stderr)
		}
	})
}

func runJava(t *testing.T, java string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := execCommand(java, env, args...)
	var stderr Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("run %s: %v", java, err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func jvmHostPID(t *testing.T, ns *NS, nspid string) int {
	t.Helper()
	n, err := strconv.Atoi(nspid)
	if err != nil {
		t.Fatal(err)
	}
	return ns.WaitHostPID(t, n, 5*time.Second)
}
