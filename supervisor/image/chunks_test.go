package image

import (
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bigImage is an image whose pages file spans several chunks, the last one
// partial, and its manifest.
func bigImage(t testing.TB, size int) (string, *Manifest) {
	dir := t.TempDir()
	pages := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(pages)
	os.WriteFile(filepath.Join(dir, "pages-1.img"), pages, 0o644)
	os.WriteFile(filepath.Join(dir, "inventory.img"), []byte("inv"), 0o644)
	files, total, err := Scan(dir, testNames)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Format: Format, Engine: "criu", Command: []string{"java", "Main"}, PID: 1001,
		Created: time.Now(), ImageBytes: total, Files: files}
	if err := Write(dir, m); err != nil {
		t.Fatal(err)
	}
	m, err = Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestChunkSums(t *testing.T) {
	dir, m := bigImage(t, 2*ChunkSize+ChunkSize/2)
	pages := m.Files[1]
	if pages.Name != "pages-1.img" || len(pages.Chunks) != 3 || len(m.Files[0].Chunks) != 1 {
		t.Fatalf("chunk sums %+v", m.Files)
	}
	if err := m.Verify(dir); err != nil {
		t.Fatal(err)
	}
	// An earlier stasis's manifest (one sum a file) verifies as before.
	old := *m
	old.Files = []File{{Name: pages.Name, Size: pages.Size, CRC32C: pages.CRC32C}}
	if err := old.Verify(dir); err != nil {
		t.Fatalf("a manifest without chunk sums: %v", err)
	}
	// A chunk list that does not fit the size is refused.
	short := *m
	short.Files = []File{{Name: pages.Name, Size: pages.Size, CRC32C: pages.CRC32C, Chunks: pages.Chunks[:2]}}
	if err := short.VerifySums(dir); err == nil || !strings.Contains(err.Error(), "chunk sums") {
		t.Fatalf("two chunk sums for three chunks: %v", err)
	}
}

// One damaged byte in any chunk refuses the image, with chunk sums or
// without; so does a file longer than the manifest says, sums alone.
func TestChunkSumsFindDamage(t *testing.T) {
	for _, at := range []int64{0, ChunkSize + 17, 2*ChunkSize + ChunkSize/2 - 1} {
		dir, m := bigImage(t, 2*ChunkSize+ChunkSize/2)
		f, _ := os.OpenFile(filepath.Join(dir, "pages-1.img"), os.O_RDWR, 0)
		b := make([]byte, 1)
		f.ReadAt(b, at)
		f.WriteAt([]byte{b[0] ^ 1}, at)
		f.Close()
		err := m.Verify(dir)
		if err == nil || !strings.Contains(err.Error(), "pages-1.img is damaged") {
			t.Errorf("a byte flipped at %d: %v", at, err)
		}
		old := *m
		old.Files = []File{{Name: "pages-1.img", Size: m.Files[1].Size, CRC32C: m.Files[1].CRC32C}}
		if err := old.Verify(dir); err == nil {
			t.Errorf("a byte flipped at %d, one sum a file: not found", at)
		}
	}
	dir, m := bigImage(t, ChunkSize+5)
	f, _ := os.OpenFile(filepath.Join(dir, "pages-1.img"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("more"))
	f.Close()
	if err := m.VerifySums(dir); err == nil {
		t.Error("a file longer than the manifest says passes its sums")
	}
}

// BenchmarkVerifySums checks a 45 MB pages file (the demo service's, from
// the page cache) with one sum a file and with chunk sums, alternating.
func BenchmarkVerifySums(b *testing.B) {
	dir, m := bigImage(b, 45<<20)
	whole := *m
	whole.Files = nil
	for _, f := range m.Files {
		whole.Files = append(whole.Files, File{Name: f.Name, Size: f.Size, CRC32C: f.CRC32C})
	}
	workers := runtime.GOMAXPROCS(0)
	variants := []struct {
		name    string
		m       *Manifest
		workers int
	}{{"whole", &whole, workers}, {"chunks", m, workers}, {"chunks-1-core", m, 1}}
	took := make([]time.Duration, len(variants))
	for i := 0; i < b.N; i++ {
		for k := range variants {
			v := (i + k) % len(variants)
			start := time.Now()
			if err := variants[v].m.VerifySumsOn(dir, variants[v].workers); err != nil {
				b.Fatal(err)
			}
			took[v] += time.Since(start)
		}
	}
	for v, t := range took {
		b.ReportMetric(float64(t.Microseconds())/1000/float64(b.N), variants[v].name+"-ms")
	}
	b.ReportMetric(float64(took[0])/float64(took[1]), "whole/chunks-x")
}
