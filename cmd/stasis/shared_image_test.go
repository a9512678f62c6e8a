package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests restore one image in the shapes production containers take:
// several replicas sharing the image directory, a read-only image directory
// (a :ro volume, or readOnlyRootFilesystem with the image in the image
// layer), and a state directory that cannot be written.

// loopCommand prints numbered lines: what each restore prints tells whose
// lines it got.
const loopCommand = `i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.005; done`

// loopImage checkpoints the shell loop and returns the service and the
// checkpoint run's output.
func loopImage(t *testing.T) (*service, string) {
	t.Helper()
	return loopImageOf(t, loopCommand)
}

// loopImageOf is loopImage for another shell loop.
func loopImageOf(t *testing.T, loop string) (*service, string) {
	t.Helper()
	s := newService(t, 0)
	s.command = []string{"/bin/sh", "-c", loop}
	ck := s.start(t, "--checkpoint-on=delay:300ms")
	if code := ck.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint run exit %d\nstderr: %s", code, ck.stderr.String())
	}
	if fifos, _ := filepath.Glob(filepath.Join(s.dir, "*.fifo")); len(fifos) > 0 {
		t.Fatalf("the image directory holds stdio FIFOs: %v", fifos)
	}
	return s, ck.stdout.String()
}

// args are the stasis arguments of a restore of s with its own state
// directory.
func (s *service) args(state string, flags ...string) []string {
	args := append([]string{"--image-dir=" + s.dir, "--state-dir=" + state, "--stop-timeout=5s",
		"--checkpoint-on=delay:300ms"}, flags...)
	return append(append(args, "--"), s.command...)
}

// restoreAfter runs a restore of s as PID 1 of a fresh PID (and mount)
// namespace, after script has run there.
func (s *service) restoreAfter(t *testing.T, script, state string, flags ...string) *stasisRun {
	t.Helper()
	return startNSAfter(t, []string{"STASIS_CRIU=" + s.criu}, script, s.args(state, flags...)...)
}

// stopAll sends SIGTERM to every run and waits for each.
func stopAll(t *testing.T, runs []*stasisRun) {
	t.Helper()
	for _, r := range runs {
		_ = syscall.Kill(r.hostPID, syscall.SIGTERM)
	}
	for _, r := range runs {
		r.wait(t, 30*time.Second)
	}
}

// TestRestoresShareOneImageDirectory: 2 and 5 restores of one image run at
// once, each in its own PID namespace and with its own state directory, like
// replicas on a shared volume. Each continues the loop where the checkpoint
// left it, and its output holds exactly its own lines: every number once, in
// order, none missing. With stdio FIFOs in the image directory, the restores
// wrote into the same FIFOs and read each other's lines.
func TestRestoresShareOneImageDirectory(t *testing.T) {
	s, before := loopImage(t)
	last := lastNumber(before, "line")
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprintf("%d restores", n), func(t *testing.T) {
			runs := make([]*stasisRun, n)
			for i := range runs {
				runs[i] = s.restoreAfter(t, `exec "$@"`, filepath.Join(t.TempDir(), "state"))
			}
			for _, r := range runs {
				r.waitOutput(t, "INF restored", time.Minute)
			}
			// Enough lines in each that an interleaving would show.
			for _, r := range runs {
				r.waitOutput(t, fmt.Sprintf("line %d\n", last+100), time.Minute)
			}
			stopAll(t, runs)
			for i, r := range runs {
				got := numbers(r.stdout.String(), "line")
				if len(got) < 100 {
					t.Fatalf("restore %d printed %d lines", i, len(got))
				}
				for k, v := range got {
					if v != last+1+k {
						t.Fatalf("restore %d: line %d is %d, want %d (lines of another restore, or lost)\nstdout: %s",
							i, k, v, last+1+k, tailString(r.stdout.String(), 600))
					}
				}
			}
		})
	}
}

// readOnly bind-mounts dir read-only over itself inside the namespace.
func readOnly(dir string) string {
	return fmt.Sprintf(`mount --bind %[1]q %[1]q && mount -o remount,ro,bind %[1]q && `, dir)
}

// TestRestoreFromReadOnlyImage: the image directory is read-only at restore,
// as a :ro volume, and then the whole tree is, with a tmpfs as the state
// directory (readOnlyRootFilesystem with an emptyDir). The restore writes
// nothing into the image directory, and the output continues.
func TestRestoreFromReadOnlyImage(t *testing.T) {
	s, before := loopImage(t)
	last := lastNumber(before, "line")
	listing := func() string {
		ents, _ := os.ReadDir(s.dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return strings.Join(names, " ")
	}
	want := listing()
	check := func(t *testing.T, r *stasisRun) {
		t.Helper()
		r.waitOutput(t, "INF restored", time.Minute)
		r.waitOutput(t, fmt.Sprintf("line %d\n", last+20), time.Minute)
		stopAll(t, []*stasisRun{r})
		if strings.Contains(r.stderr.String(), "starting cold") {
			t.Fatalf("the restore failed:\n%s", r.stderr.String())
		}
		if got := numbers(r.stdout.String(), "line"); len(got) == 0 || got[0] != last+1 {
			t.Fatalf("the restore does not continue at line %d: %v", last+1, got[:min(len(got), 5)])
		}
		if got := listing(); got != want {
			t.Fatalf("the restore changed the image directory:\n got %s\nwant %s", got, want)
		}
	}
	t.Run("read-only image directory", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		check(t, s.restoreAfter(t, readOnly(s.dir)+`exec "$@"`, state))
	})
	t.Run("read-only tree, tmpfs state directory", func(t *testing.T) {
		root := filepath.Dir(s.dir)
		state := filepath.Join(root, "run")
		if err := os.MkdirAll(state, 0o755); err != nil {
			t.Fatal(err)
		}
		check(t, s.restoreAfter(t, readOnly(root)+fmt.Sprintf(`mount -t tmpfs tmpfs %q && exec "$@"`, state), state))
	})
}

// TestReadOnlyStateDirIsNamed: a restore whose state directory cannot be
// written fails before CRIU runs, with one message naming STASIS_STATE_DIR
// and the fix, not CRIU's "Can't create log file".
func TestReadOnlyStateDirIsNamed(t *testing.T) {
	s, _ := loopImage(t)
	root := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(filepath.Join(root, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, state := range map[string]string{
		"read-only":                 filepath.Join(root, "state"),
		"missing, parent read-only": filepath.Join(root, "missing"),
	} {
		t.Run(name, func(t *testing.T) {
			r := s.restoreAfter(t, readOnly(root)+`exec "$@"`, state, "--on-restore-failure=fail")
			if code := r.wait(t, time.Minute); code != 4 {
				t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
			}
			out := r.stderr.String()
			if !strings.Contains(out, "STASIS_STATE_DIR") || !strings.Contains(out, "read-only file system") ||
				!strings.Contains(out, "emptyDir") || strings.Contains(out, "Can't create log file") {
				t.Fatalf("the message does not name the state directory and the fix:\n%s", out)
			}
			if !strings.Contains(out, "no control socket: STASIS_STATE_DIR="+state) {
				t.Fatalf("the missing control socket is not explained:\n%s", out)
			}
			// `stasis healthcheck` in such a container says so, instead of
			// "starting" for ever.
			code, hc := runOutput(t, exec.Command("unshare", "--mount", "/bin/sh", "-c",
				readOnly(root)+`exec "$@"`, "sh", stasisBin, "healthcheck", "--state-dir="+state))
			if code != 1 || strings.Contains(hc, "starting") || !strings.Contains(hc, "STASIS_STATE_DIR="+state) ||
				!strings.Contains(hc, "emptyDir") {
				t.Fatalf("healthcheck: exit %d: %s", code, hc)
			}
		})
	}
}

// TestRestoreErrorShowsThisRunsLog: a criu that fails before it writes any
// log must not have a stale restore.log (an earlier restore's, in the state
// or the image directory) quoted as the reason.
func TestRestoreErrorShowsThisRunsLog(t *testing.T) {
	s, _ := loopImage(t)
	state := filepath.Join(t.TempDir(), "state")
	for _, dir := range []string{state, s.dir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "restore.log"), []byte("STALE LINE from an earlier restore\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	failing := filepath.Join(t.TempDir(), "criu")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startNS(t, nil, append([]string{"--criu=" + failing, "--on-restore-failure=fail"}, s.args(state)...)...)
	if code := r.wait(t, time.Minute); code != 4 {
		t.Fatalf("exit %d, want 4\nstderr: %s", code, r.stderr.String())
	}
	if out := r.stderr.String(); strings.Contains(out, "STALE") || !strings.Contains(out, "criu restore exit status 1") {
		t.Fatalf("the error quotes another run's log, or not criu's failure:\n%s", out)
	}
}

// TestJVMRestoresShareOneImageDirectory is TestRestoresShareOneImageDirectory
// with the real JVM, which prints "tick N" every 5 ms and listens on a TCP
// port: each restore runs in its own network namespace too (as replicas
// do), where the restored listener can bind again.
func TestJVMRestoresShareOneImageDirectory(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2 to bring up lo in each restore's network namespace")
	}
	s := newService(t, 5)
	// No GC through the attach API before the dump: the JVM would then hold
	// its attach socket, which every restore binds again at the same path in
	// /tmp, and these restores share the test's /tmp, where replicas have one
	// each ("Can't bind ... /tmp/.java_pid1002.tmp: Address already in use"
	// when two restores race for it).
	ck := s.start(t, "--warmup-url="+s.url("/count"), "--warmup-requests=50", "--gc-before-checkpoint=false")
	if code := ck.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("checkpoint run exit %d\nstderr: %s", code, ck.stderr.String())
	}
	last := lastNumber(ck.stdout.String(), "tick")
	ownNet := `exec unshare --net /bin/sh -c 'ip link set lo up && exec "$@"' sh "$@"`
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprintf("%d restores", n), func(t *testing.T) {
			runs := make([]*stasisRun, n)
			for i := range runs {
				runs[i] = startNSAfter(t, []string{"STASIS_CRIU=" + s.criu}, ownNet,
					append([]string{"--image-dir=" + s.dir, "--state-dir=" + filepath.Join(t.TempDir(), "state"),
						"--checkpoint-on=" + s.url("/count"), "--stop-timeout=5s", "--"}, s.command...)...)
			}
			for _, r := range runs {
				r.waitOutput(t, "INF restored", time.Minute)
			}
			for _, r := range runs {
				r.waitOutput(t, fmt.Sprintf("tick %d\n", last+100), time.Minute)
			}
			stopAll(t, runs)
			for i, r := range runs {
				got := numbers(r.stdout.String(), "tick")
				for k, v := range got {
					if v != last+1+k {
						t.Fatalf("restore %d: tick line %d is %d, want %d (lines of another restore, or lost)\nstdout: %s",
							i, k, v, last+1+k, tailString(r.stdout.String(), 600))
					}
				}
			}
		})
	}
}
