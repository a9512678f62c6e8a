package image

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident is the share of path's pages in the page cache (mincore).
func resident(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	vec := make([]byte, (len(b)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}

// Prefetch brings an evicted image into the page cache without being asked
// to read it.
func TestPrefetchFillsThePageCache(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type == unix.TMPFS_MAGIC {
		t.Skip("the test directory is on a tmpfs: its pages cannot be evicted")
	}
	pages := filepath.Join(dir, "pages-1.img")
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(pages, data, 0o600); err != nil {
		t.Fatal(err)
	}
	files, total, err := Scan(dir, Names{"pages-%d.img"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, &Manifest{Format: Format, Engine: "criu", Command: []string{"java"}, Files: files, ImageBytes: total}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(pages)
	unix.Fsync(int(f.Fd()))
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	f.Close()
	if r := resident(t, pages); r > 0.5 {
		t.Skipf("the pages could not be evicted (%.0f%% resident)", 100*r)
	}
	Prefetch(dir)
	deadline := time.Now().Add(10 * time.Second)
	for resident(t, pages) < 0.99 {
		if time.Now().After(deadline) {
			t.Fatalf("after Prefetch, %.0f%% of the pages are in memory", 100*resident(t, pages))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
