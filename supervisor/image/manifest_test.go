package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testNames stand for an engine's list (supervisor/engine owns the real ones).
var testNames = Names{"pages-%u.img", "core-%u.img", "inventory.img", "stats-%s", "dump.log", "stdout.fifo"}

func writeImage(t *testing.T) (string, *Manifest) {
	dir := t.TempDir()
	for name, body := range map[string]string{"pages-1.img": strings.Repeat("x", 10000), "core-1001.img": "core",
		"dump.log": "log", "stdout.fifo": "", "inventory.img": "inv", "sub/pages-2.img": "user's", "disk.img": "user's"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	files, total, err := Scan(dir, testNames)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Format: Format, Engine: "criu", Command: []string{"java", "Main"}, PID: 1001,
		Created: time.Now(), ImageBytes: total, Files: files}
	if err := Write(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestWriteReadVerify(t *testing.T) {
	dir, m := writeImage(t)
	if len(m.Files) != 3 {
		t.Fatalf("scanned %v: logs, fifos, the manifest, the user's files and subdirectories are not image files", m.Files)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(dir); err != nil {
		t.Fatal(err)
	}
	if err := got.Matches("criu", []string{"java", "Main"}); err != nil {
		t.Fatal(err)
	}
	if got.Matches("crac", []string{"java", "Main"}) == nil || got.Matches("criu", []string{"java", "Other"}) == nil {
		t.Fatal("another engine or command must not match")
	}
	// A log growing after the checkpoint (every restore appends) changes nothing.
	os.WriteFile(filepath.Join(dir, "dump.log"), []byte("much longer log"), 0o644)
	if err := got.Verify(dir); err != nil {
		t.Fatalf("a log change broke verification: %v", err)
	}
}

func TestVerifyFindsDamage(t *testing.T) {
	for name, damage := range map[string]func(dir string){
		"truncated": func(dir string) { os.Truncate(filepath.Join(dir, "pages-1.img"), 10) },
		"flipped": func(dir string) {
			os.WriteFile(filepath.Join(dir, "pages-1.img"), []byte(strings.Repeat("y", 10000)), 0o644)
		},
		"missing": func(dir string) { os.Remove(filepath.Join(dir, "inventory.img")) },
	} {
		dir, m := writeImage(t)
		damage(dir)
		if err := m.Verify(dir); err == nil {
			t.Errorf("%s: damage not found", name)
		}
	}
}

func TestInvalidateRemovesManifestFirstAndKeepsForeignFiles(t *testing.T) {
	dir, _ := writeImage(t)
	os.WriteFile(filepath.Join(dir, "README"), []byte("mine"), 0o644)
	// The user's files that look like an engine's: another program's log and
	// disk image, a directory with an engine-like name, a symbolic link.
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("mine"), 0o644)
	os.Mkdir(filepath.Join(dir, "core-7.img"), 0o755)
	os.WriteFile(filepath.Join(dir, "core-7.img", "keep"), []byte("mine"), 0o644)
	os.Symlink("disk.img", filepath.Join(dir, "pages-9.img"))
	if err := Invalidate(dir, testNames, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil {
		t.Fatal("manifest survived")
	}
	for name, want := range map[string]bool{"README": true, "dump.log": true, "pages-1.img": false,
		"core-1001.img": false, "inventory.img": false, "app.log": true, "disk.img": true, "sub/pages-2.img": true,
		"core-7.img/keep": true, "pages-9.img": true} {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != want {
			t.Errorf("%s present=%v, want %v", name, err == nil, want)
		}
	}
}

// Without keeping logs (a new checkpoint run), the engine's own log goes too,
// and still nothing else.
func TestInvalidateForANewRun(t *testing.T) {
	dir, _ := writeImage(t)
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("mine"), 0o644)
	if err := Invalidate(dir, testNames, false); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "app.log disk.img sub" {
		t.Fatalf("left %q, want only the user's app.log, disk.img and sub", names)
	}
}

func TestTemplates(t *testing.T) {
	for _, c := range []struct {
		tmpl, name string
		want       bool
	}{
		{"pages-%u.img", "pages-1.img", true}, {"pages-%u.img", "pages-.img", false},
		{"pages-%u.img", "pages-x.img", false}, {"pages-%u.img", "pages-12.img.bak", false},
		{"pagemap-%lu.img", "pagemap-1001.img", true}, {"pages-%d.img", "pages--1.img", true},
		{"ghost-file-%x.img", "ghost-file-1f.img", true}, {"ghost-file-%x.img", "ghost-file-z.img", false},
		{"stats-%s", "stats-dump", true}, {"stats-%s", "stats-", false}, {"inventory.img", "inventory.img", true},
		{"inventory.img", "disk.img", false}, {"core-%u.img", "core-1.img2", false},
	} {
		if got := matchTemplate(c.tmpl, c.name); got != c.want {
			t.Errorf("matchTemplate(%q, %q) = %v, want %v", c.tmpl, c.name, got, c.want)
		}
	}
	if !(Names{}).Owned(ManifestName) || (Names{"x"}).Owned("sub/x") {
		t.Error("the manifest is stasis's; a path into a subdirectory is never owned")
	}
}

// A manifest past MaxManifest is refused without reading it whole, and none
// that large is ever written.
func TestManifestSizeIsCapped(t *testing.T) {
	dir := t.TempDir()
	f, _ := os.Create(filepath.Join(dir, ManifestName))
	f.WriteString(`{"format":1,"engine":"criu","command":["java"],"files":[`)
	f.Truncate(1 << 30) // a sparse gigabyte
	f.Close()
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Read of a 1 GiB manifest: %v", err)
	}
	m := &Manifest{Format: Format, Engine: "criu", Command: []string{strings.Repeat("x", MaxManifest)}}
	if err := Write(dir, m); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Write of a manifest past the cap: %v", err)
	}
}

// Protect leaves the image readable by its owner only.
func TestProtect(t *testing.T) {
	dir, m := writeImage(t)
	os.Chmod(dir, 0o755)
	if err := Protect(dir, m.Files); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	for _, f := range m.Files {
		if fi, _ := os.Stat(filepath.Join(dir, f.Name)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f.Name, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "disk.img")); fi.Mode().Perm() != 0o644 {
		t.Errorf("the user's disk.img was changed to %v", fi.Mode().Perm())
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"format":1,"engine":"criu","command":["java"],"pid":1001,"files":[{"name":"a.img","size":1,"crc32c":"00"}]}`))
	f.Add([]byte(`{"format":1,"engine":"criu","command":["java"],"files":[{"name":"../x","size":1}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		for _, fl := range m.Files {
			if filepath.IsAbs(fl.Name) || strings.HasPrefix(filepath.Clean(fl.Name), "..") {
				t.Fatalf("accepted a file outside the image: %q", fl.Name)
			}
		}
	})
}

// FuzzOwned: a template never claims a name outside the directory, and a
// name matches its own template-free spelling.
func FuzzOwned(f *testing.F) {
	for _, s := range []string{"pages-1.img", "core-12.img", "stats-dump", "disk.img", "a/pages-1.img", "pages-.img", "%u"} {
		f.Add(s)
	}
	names := Names{"pages-%u.img", "core-%u.img", "stats-%s", "ghost-file-%x.img", "pages-%d.img", "%s"}
	f.Fuzz(func(t *testing.T, name string) {
		if names.Owned(name) && strings.ContainsRune(name, '/') {
			t.Fatalf("owned a path into a subdirectory: %q", name)
		}
		if !strings.ContainsRune(name, '%') && !strings.ContainsRune(name, '/') && !(Names{name}).Owned(name) {
			t.Fatalf("a literal template does not match itself: %q", name)
		}
	})
}
