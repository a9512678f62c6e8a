package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/supervisor"
)

// statusJSON asks a running stasis for `stasis status --json`.
func statusJSON(t testing.TB, stateDir string) supervisor.Status {
	t.Helper()
	cmd := exec.Command(stasisBin, "status", "--json")
	cmd.Env = append(os.Environ(), "STASIS_STATE_DIR="+stateDir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("stasis status --json: %v: %s", err, errb.String())
	}
	var st supervisor.Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status: %v: %s", err, out.String())
	}
	return st
}

// readyPhase waits until the status reports the restore's readiness.
func readyPhase(t *testing.T, r *stasisRun, stateDir string) *supervisor.RestorePhases {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := statusJSON(t, stateDir)
		if st.Restore != nil && st.Restore.ReadyMS > 0 {
			return st.Restore
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready_ms in the status: %+v\nstderr: %s", st, r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func restoredCount(t *testing.T, s *service, r *stasisRun) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(getOr(t, r, s.url("/count"), time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stop(t *testing.T, r *stasisRun) {
	t.Helper()
	syscall.Kill(r.hostPID, syscall.SIGTERM)
	r.wait(t, 30*time.Second)
}

// TestRestorePhases: the checkpoint run leaves CRIU's kernel probe beside
// the image; the restore uses it, checks the image's checksums while CRIU
// restores (STASIS_RESTORE_CHECKSUMS=during), and reports its phases in the
// log and the status.
func TestRestorePhases(t *testing.T) {
	s := newService(t, 0)
	_, count := s.checkpoint(t)
	if keys, _ := filepath.Glob(filepath.Join(s.dir, ".stasis-kdat", "*", "key")); len(keys) != 1 {
		t.Fatalf("the checkpoint run made %d kerndat caches, want 1", len(keys))
	}
	r := s.start(t, "--restore-checksums=during")
	if n := restoredCount(t, s, r); n <= count {
		t.Fatalf("GET /count = %d after a checkpoint at %d: not restored\nstderr: %s", n, count, r.stderr.String())
	}
	p := readyPhase(t, r, s.state)
	t.Logf("phases: %+v", *p)
	if p.Kdat != "cache" || !p.VerifyHeld || p.CRIUMS <= 0 || p.ReadyMS < p.CheckMS+p.CRIUMS {
		t.Errorf("phases %+v: want the kerndat cache, checksums during criu, ready after check and criu", *p)
	}
	for _, want := range []string{"check_ms=", "criu_ms=", "kerndat=cache", "checksums_during_criu=true", "ready after the restore"} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, r.stderr.String())
		}
	}
	stop(t, r)
	log, _ := os.ReadFile(filepath.Join(s.state, "restore.log"))
	for _, want := range []string{"Loaded kdat cache from " + filepath.Join(s.dir, ".stasis-kdat"), "pre-resume"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("restore.log lacks %q", want)
		}
	}
}

// TestRestoreWithWrongKdatCache: a cache CRIU accepts (its size, its magic
// numbers) but with wrong facts fails the restore; stasis drops it and
// restores once more with a full probe.
func TestRestoreWithWrongKdatCache(t *testing.T) {
	s := newService(t, 0)
	_, count := s.checkpoint(t)
	caches, _ := filepath.Glob(filepath.Join(s.dir, ".stasis-kdat", "*", "criu.kdat"))
	if len(caches) != 1 {
		t.Fatalf("%d kerndat caches, want 1", len(caches))
	}
	cache := caches[0]
	b, err := os.ReadFile(cache)
	if err != nil {
		t.Fatalf("no kerndat cache: %v", err)
	}
	// The magics stay (criu/kerndat.c checks only them and the size).
	wrong := append(b[:8:8], make([]byte, len(b)-8)...)
	if err := os.WriteFile(cache, wrong, 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.start(t, "--on-restore-failure=fail")
	if n := restoredCount(t, s, r); n <= count {
		t.Fatalf("GET /count = %d after a checkpoint at %d: not restored\nstderr: %s", n, count, r.stderr.String())
	}
	// The JVM answers as it resumes, a moment before CRIU exits.
	st := statusJSON(t, s.state)
	for deadline := time.Now().Add(10 * time.Second); st.Start == "" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		st = statusJSON(t, s.state)
	}
	if st.Start != supervisor.StartRestored || st.Restore == nil || !st.Restore.KdatRetried || !strings.HasPrefix(st.Restore.Kdat, "probe") {
		t.Errorf("status %+v %+v: want restored after a retry with a full probe", st, st.Restore)
	}
	if !strings.Contains(r.stderr.String(), "retrying once with a full probe") {
		t.Errorf("the retry is not logged:\n%s", r.stderr.String())
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("the wrong cache is kept")
	}
	stop(t, r)
}

// TestDamagedSameSizeNeverResumes: an image damaged without a change of
// size passes the size check; its checksums fail before CRIU starts
// (STASIS_RESTORE_CHECKSUMS=before) or while CRIU restores it (during),
// and then the restored JVM is killed before it resumes: either way it
// never answers, CRIU's log never says the tasks resumed, and the start is
// cold.
func TestDamagedSameSizeNeverResumes(t *testing.T) {
	for _, mode := range []string{"before", "during"} {
		t.Run(mode, func(t *testing.T) {
			s := newService(t, 0)
			s.checkpoint(t)
			pages, _ := filepath.Glob(filepath.Join(s.dir, "pages-*.img"))
			if len(pages) == 0 {
				t.Fatal("no pages image")
			}
			f, err := os.OpenFile(pages[0], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			if _, err := f.WriteAt([]byte("damage"), fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			f.Close()
			r := s.start(t, "--restore-checksums="+mode)
			if got := getOr(t, r, s.url("/count"), time.Minute); got != "1" {
				t.Fatalf("GET /count = %s, want 1 from a cold JVM\nstderr: %s", got, r.stderr.String())
			}
			r.waitOutput(t, "starting cold", 5*time.Second)
			if !strings.Contains(r.stderr.String(), "is damaged (crc32c") {
				t.Errorf("the checksum mismatch is not named:\n%s", r.stderr.String())
			}
			log, _ := os.ReadFile(filepath.Join(s.state, "restore.log"))
			if bytes.Contains(log, []byte("Tasks resumed")) {
				t.Errorf("CRIU resumed the damaged image's tasks:\n%s", tailString(string(log), 2000))
			}
			stop(t, r)
		})
	}
}
