package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// kdatFixture is a cache directory holding a cache made under this
// process's key, for a stand-in criu binary (only its path, size and time
// enter the key).
func kdatFixture(t *testing.T) (dir, criu string) {
	t.Helper()
	base := t.TempDir()
	criu = filepath.Join(base, "criu")
	if err := os.WriteFile(criu, []byte("\x7fELF stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "criu-kdat")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := kdatKey(criu)
	if err != nil {
		t.Skipf("no kerndat key here: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KdatName), make([]byte, 912), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, kdatKeyName), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, criu
}

// The key names what CRIU's cache depends on and CRIU does not check
// (criu/kerndat.c trusts any file of the right size with its magics).
func TestKdatKeyNamesItsFacts(t *testing.T) {
	_, criu := kdatFixture(t)
	key, _ := kdatKey(criu)
	for _, want := range []string{"boot_id", "osrelease", "nr_open", "mmap_min_addr", "CapEff:", "Uid:", "criu " + criu, "ipv6 ", "iptables "} {
		if !strings.Contains(key, want) {
			t.Errorf("key lacks %q:\n%s", want, key)
		}
	}
}

func TestKdatUsable(t *testing.T) {
	t.Run("made under this key", func(t *testing.T) {
		dir, criu := kdatFixture(t)
		if ok, why := kdatUsable(dir, criu); !ok {
			t.Fatalf("not usable: %s", why)
		}
	})
	t.Run("another boot, kernel or privileges", func(t *testing.T) {
		dir, criu := kdatFixture(t)
		key, _ := os.ReadFile(filepath.Join(dir, kdatKeyName))
		other := strings.Replace(string(key), "CapEff:", "CapEff: 0 was", 1)
		os.WriteFile(filepath.Join(dir, kdatKeyName), []byte(other), 0o600)
		if ok, _ := kdatUsable(dir, criu); ok {
			t.Fatal("a cache made under another key is used")
		}
		if _, err := os.Stat(filepath.Join(dir, KdatName)); err == nil {
			t.Fatal("the stale cache is kept")
		}
	})
	t.Run("another criu binary", func(t *testing.T) {
		dir, criu := kdatFixture(t)
		later := time.Now().Add(time.Hour)
		os.Chtimes(criu, later, later)
		if ok, _ := kdatUsable(dir, criu); ok {
			t.Fatal("a cache made by another criu is used")
		}
	})
	t.Run("no key", func(t *testing.T) {
		dir, criu := kdatFixture(t)
		os.Remove(filepath.Join(dir, kdatKeyName))
		if ok, _ := kdatUsable(dir, criu); ok {
			t.Fatal("a cache without its key is used")
		}
	})
	t.Run("no cache file", func(t *testing.T) {
		dir, criu := kdatFixture(t)
		os.Remove(filepath.Join(dir, KdatName))
		if ok, _ := kdatUsable(dir, criu); ok {
			t.Fatal("a key without a cache is used")
		}
	})
	t.Run("no directory", func(t *testing.T) {
		if ok, _ := kdatUsable("", "/bin/true"); ok {
			t.Fatal("used without a directory")
		}
	})
}

// Without stasis's cache, CRIU must not load one from an inherited
// XDG_RUNTIME_DIR (--unprivileged reads $XDG_RUNTIME_DIR/criu.kdat unchecked).
func TestKdatEnv(t *testing.T) {
	dir, criu := kdatFixture(t)
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/0")
	j := &RestoreJob{Options: Options{CRIU: criu}, KdatDir: dir}
	use, env := kdatEnv(j)
	if !use || j.Kdat != "cache" || !slices.Contains(env, "XDG_RUNTIME_DIR="+dir) || slices.Contains(env, "XDG_RUNTIME_DIR=/run/user/0") {
		t.Fatalf("with the cache: use %t, kdat %q, env %v", use, j.Kdat, xdg(env))
	}
	j = &RestoreJob{Options: Options{CRIU: criu}, KdatDir: dir, NoKdat: true}
	use, env = kdatEnv(j)
	if use || !strings.HasPrefix(j.Kdat, "probe") || len(xdg(env)) != 0 {
		t.Fatalf("without: use %t, kdat %q, env %v", use, j.Kdat, xdg(env))
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
