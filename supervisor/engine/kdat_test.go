package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// kdatFixture is an image directory's cache base holding a cache made
// under this process's key, for a stand-in criu binary (only its path, size
// and time enter the key); sub is the cache's own directory.
func kdatFixture(t *testing.T) (base, criu, sub string) {
	t.Helper()
	dir := t.TempDir()
	criu = filepath.Join(dir, "criu")
	if err := os.WriteFile(criu, []byte("\x7fELF stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	base = filepath.Join(dir, ".stasis-kdat")
	key, err := kdatKey(criu)
	if err != nil {
		t.Skipf("no kerndat key here: %v", err)
	}
	sub = kdatSub(base, key)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, KdatName), make([]byte, 912), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, kdatKeyName), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return base, criu, sub
}

// The key names what CRIU's cache depends on and CRIU does not check
// (criu/kerndat.c trusts any file of the right size with its magics).
func TestKdatKeyNamesItsFacts(t *testing.T) {
	_, criu, _ := kdatFixture(t)
	key, _ := kdatKey(criu)
	for _, want := range []string{"boot_id", "osrelease", "nr_open", "mmap_min_addr", "CapEff:", "Uid:", "criu " + criu, "ipv6 ", "iptables "} {
		if !strings.Contains(key, want) {
			t.Errorf("key lacks %q:\n%s", want, key)
		}
	}
}

func TestKdatUsable(t *testing.T) {
	t.Run("made under this key", func(t *testing.T) {
		base, criu, sub := kdatFixture(t)
		if dir, why := kdatUsable(base, criu); dir != sub {
			t.Fatalf("not usable: %s", why)
		}
	})
	t.Run("a key that differs in its directory", func(t *testing.T) {
		base, criu, sub := kdatFixture(t)
		key, _ := os.ReadFile(filepath.Join(sub, kdatKeyName))
		other := strings.Replace(string(key), "CapEff:", "CapEff: 0 was", 1)
		os.WriteFile(filepath.Join(sub, kdatKeyName), []byte(other), 0o600)
		if dir, _ := kdatUsable(base, criu); dir != "" {
			t.Fatal("a cache made under another key is used")
		}
	})
	t.Run("another criu binary", func(t *testing.T) {
		base, criu, _ := kdatFixture(t)
		later := time.Now().Add(time.Hour)
		os.Chtimes(criu, later, later)
		if dir, _ := kdatUsable(base, criu); dir != "" {
			t.Fatal("a cache made by another criu is used")
		}
	})
	t.Run("no key", func(t *testing.T) {
		base, criu, sub := kdatFixture(t)
		os.Remove(filepath.Join(sub, kdatKeyName))
		if dir, _ := kdatUsable(base, criu); dir != "" {
			t.Fatal("a cache without its key is used")
		}
	})
	t.Run("no cache file", func(t *testing.T) {
		base, criu, sub := kdatFixture(t)
		os.Remove(filepath.Join(sub, KdatName))
		if dir, _ := kdatUsable(base, criu); dir != "" {
			t.Fatal("a key without a cache is used")
		}
	})
	t.Run("dropped", func(t *testing.T) {
		base, criu, _ := kdatFixture(t)
		DropKdat(base, criu)
		if dir, _ := kdatUsable(base, criu); dir != "" {
			t.Fatal("a dropped cache is used")
		}
	})
	t.Run("no directory", func(t *testing.T) {
		if dir, _ := kdatUsable("", "/bin/true"); dir != "" {
			t.Fatal("used without a directory")
		}
	})
}

// Caches of another boot go when a new one is made; this boot's stay.
func TestPruneKdat(t *testing.T) {
	base, criu, sub := kdatFixture(t)
	old := filepath.Join(base, "0123456789abcdef")
	os.MkdirAll(old, 0o700)
	os.WriteFile(filepath.Join(old, kdatKeyName), []byte("/proc/sys/kernel/random/boot_id another-boot\n"), 0o600)
	key, _ := kdatKey(criu)
	pruneKdat(base, key)
	if _, err := os.Stat(old); err == nil {
		t.Error("another boot's cache is kept")
	}
	if _, err := os.Stat(sub); err != nil {
		t.Errorf("this boot's cache is gone: %v", err)
	}
}

// Without stasis's cache, CRIU must not load one from an inherited
// XDG_RUNTIME_DIR (--unprivileged reads $XDG_RUNTIME_DIR/criu.kdat unchecked).
func TestKdatEnv(t *testing.T) {
	base, criu, sub := kdatFixture(t)
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/0")
	j := &RestoreJob{Options: Options{CRIU: criu}, KdatDir: base}
	use, env, _ := kdatEnv(j, false)
	if !use || j.Kdat != "cache" || !slices.Contains(env, "XDG_RUNTIME_DIR="+sub) || slices.Contains(env, "XDG_RUNTIME_DIR=/run/user/0") {
		t.Fatalf("with the cache: use %t, kdat %q, env %v", use, j.Kdat, xdg(env))
	}
	j = &RestoreJob{Options: Options{CRIU: criu}, KdatDir: base, NoKdat: true}
	use, env, _ = kdatEnv(j, false)
	if use || !strings.HasPrefix(j.Kdat, "probe") || len(xdg(env)) != 0 {
		t.Fatalf("without: use %t, kdat %q, env %v", use, j.Kdat, xdg(env))
	}
}

// A restore that runs --unprivileged without a cache lets CRIU save the one
// it makes in a fresh directory, and keepKdat stores it for the next, in
// the state directory (a restore writes nothing in the image directory),
// where kdatEnv finds it.
func TestKdatKeptFromARestore(t *testing.T) {
	base, criu, _ := kdatFixture(t)
	DropKdat(base, criu)
	save := filepath.Join(t.TempDir(), "kerndat")
	j := &RestoreJob{Options: Options{CRIU: criu}, KdatDir: base, KdatSave: save, WorkDir: t.TempDir()}
	use, env, fresh := kdatEnv(j, true)
	if use || fresh == "" || !slices.Contains(env, "XDG_RUNTIME_DIR="+fresh) {
		t.Fatalf("use %t, fresh %q, env %v", use, fresh, xdg(env))
	}
	defer os.RemoveAll(fresh)
	os.WriteFile(filepath.Join(fresh, KdatName), []byte("as CRIU saved it"), 0o600)
	if err := keepKdat(save, criu, fresh); err != nil {
		t.Fatal(err)
	}
	if dir, _ := kdatUsable(base, criu); dir != "" {
		t.Fatal("a restore wrote into the image directory")
	}
	dir, why := kdatUsable(save, criu)
	if dir == "" {
		t.Fatalf("not kept: %s", why)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, KdatName)); string(b) != "as CRIU saved it" {
		t.Fatalf("kept %q", b)
	}
	j = &RestoreJob{Options: Options{CRIU: criu}, KdatDir: base, KdatSave: save, WorkDir: t.TempDir()}
	if use, env, _ := kdatEnv(j, true); !use || !slices.Contains(env, "XDG_RUNTIME_DIR="+dir) {
		t.Fatalf("the next restore does not use it: %v", xdg(env))
	}
}

func xdg(env []string) []string {
	var out []string
	for _, e := range env {
		if strings.HasPrefix(e, "XDG_RUNTIME_DIR=") {
			out = append(out, e)
		}
	}
	return out
}
