package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadRelease(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "release"), []byte("IMPLEMENTOR=\"Azul Systems, Inc.\"\nJAVA_VERSION=\"21.0.5\"\nJAVA_RUNTIME_VERSION=\"21.0.5+11-LTS\"\n"), 0o644)
	if r := ReadRelease(home); r.Vendor != "Azul Systems, Inc." || r.Version != "21.0.5+11-LTS" {
		t.Fatalf("%+v", r)
	}
	if r := ReadRelease(t.TempDir()); r != (Release{}) {
		t.Fatalf("no release file: %+v", r)
	}
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte("IMPLEMENTOR=\"Debian\"\nJAVA_VERSION=\"17.0.15\"\n"))
	f.Add([]byte("=x\nA==\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k := range parseRelease(b) {
			if k == "" {
				t.Fatal("empty key")
			}
		}
	})
}
