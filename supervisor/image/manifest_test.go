package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeImage(t *testing.T) (string, *Manifest) {
	dir := t.TempDir()
	for name, body := range map[string]string{"pages-1.img": strings.Repeat("x", 10000), "core-1001.img": "core",
		"dump.log": "log", "stdout.fifo": "", "sub/inventory.img": "inv"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	files, total, err := Scan(dir)
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
		t.Fatalf("scanned %v: logs, fifos and the manifest are not image files", m.Files)
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
		"missing": func(dir string) { os.Remove(filepath.Join(dir, "sub/inventory.img")) },
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
	if err := Invalidate(dir, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil {
		t.Fatal("manifest survived")
	}
	for name, want := range map[string]bool{"README": true, "dump.log": true, "pages-1.img": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != want {
			t.Errorf("%s present=%v, want %v", name, err == nil, want)
		}
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
