package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The image directory belongs to the user: a checkpoint run (successful or
// not) removes and lists only what CRIU and stasis create there, and leaves
// the image readable by its owner only. Real JVM, real CRIU.
func TestImageDirBelongsToTheUser(t *testing.T) {
	s := newService(t, 0)
	os.MkdirAll(filepath.Join(s.dir, "data"), 0o755)
	os.Chmod(s.dir, 0o755)
	mine := map[string]string{"app.log": "my log", "disk.img": "my disk", "data/keep": "my data", "notes.txt": "mine"}
	for name, body := range mine {
		os.WriteFile(filepath.Join(s.dir, name), []byte(body), 0o644)
	}
	checkMine := func(when string) {
		t.Helper()
		for name, body := range mine {
			if b, err := os.ReadFile(filepath.Join(s.dir, name)); err != nil || string(b) != body {
				t.Errorf("%s: the user's %s is gone or changed: %q %v", when, name, b, err)
			}
		}
	}

	s.checkpoint(t)
	checkMine("after a checkpoint")
	if fi, _ := os.Stat(s.dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("image directory mode %v, want 0700", fi.Mode().Perm())
	}
	var m struct{ Files []struct{ Name string } }
	b, _ := os.ReadFile(filepath.Join(s.dir, "stasis.json"))
	if err := json.Unmarshal(b, &m); err != nil || len(m.Files) == 0 {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	for _, f := range m.Files {
		if _, isMine := mine[f.Name]; isMine || strings.HasPrefix(f.Name, "data") {
			t.Errorf("the manifest lists the user's %s as part of the image", f.Name)
		}
		fi, err := os.Stat(filepath.Join(s.dir, f.Name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("image file %s: mode %v (%v), want 0600", f.Name, fi.Mode().Perm(), err)
		}
	}

	// A failed checkpoint run (every warm-up request gets 404) removes the
	// old image and nothing of the user's.
	r := s.start(t, "--mode=checkpoint", "--warmup-url="+s.url("/missing"), "--warmup-requests=5")
	if code := r.wait(t, 3*time.Minute); code != 3 {
		t.Fatalf("failing run: exit %d, want 3\nstderr: %s", code, r.stderr.String())
	}
	checkMine("after a failed checkpoint run")
	if _, err := os.Stat(filepath.Join(s.dir, "stasis.json")); err == nil {
		t.Error("the manifest survived a failed run")
	}
	for _, f := range m.Files {
		if _, err := os.Stat(filepath.Join(s.dir, f.Name)); err == nil {
			t.Errorf("the old image's %s survived a new checkpoint run", f.Name)
		}
	}
}
