package image

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// ChunkSize is the span of each CRC-32C in a file's Chunks. A CRIU image is
// mostly one pages file (45 of the demo service's 48 MB): one sum per file
// keeps the check on one core, one sum per chunk spreads it over all.
const ChunkSize = 4 << 20

// readSize is what one read takes: small enough to stay in a core's cache
// between the read and the sum.
const readSize = 256 << 10

// checksumChunks reads path once for its CRC-32C (what every stasis
// checks) and one per ChunkSize bytes (what this one checks, in parallel).
func checksumChunks(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	tab := castagnoli()
	buf := make([]byte, readSize)
	var whole, chunk uint32
	var n, inChunk int64
	var chunks []string
	for {
		k, err := f.Read(buf)
		for b := buf[:k]; len(b) > 0; {
			take := min(int64(len(b)), ChunkSize-inChunk)
			whole = crc32.Update(whole, tab, b[:take])
			chunk = crc32.Update(chunk, tab, b[:take])
			n, inChunk, b = n+take, inChunk+take, b[take:]
			if inChunk == ChunkSize {
				chunks, chunk, inChunk = append(chunks, fmt.Sprintf("%08x", chunk)), 0, 0
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return File{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	if inChunk > 0 {
		chunks = append(chunks, fmt.Sprintf("%08x", chunk))
	}
	return File{Size: n, CRC32C: fmt.Sprintf("%08x", whole), Chunks: chunks}, nil
}

// sumJob is one unit of a check: one chunk of a file, or a whole file
// whose manifest has no chunk sums (made by an earlier stasis).
type sumJob struct {
	file  int
	chunk int // -1: the whole file
	size  int64
}

// verifyParallel checks the files' sums on at most workers goroutines,
// chunk by chunk where the manifest has chunk sums, largest first.
func verifyParallel(dir string, files []File, workers int) error {
	var jobs []sumJob
	errs := make([]error, len(files))
	for i, f := range files {
		if len(f.Chunks) == 0 {
			jobs = append(jobs, sumJob{i, -1, f.Size})
			continue
		}
		if want := (f.Size + ChunkSize - 1) / ChunkSize; int64(len(f.Chunks)) != want {
			errs[i] = fmt.Errorf("image file %s: the manifest has %d chunk sums for %d bytes, want %d", f.Name, len(f.Chunks), f.Size, want)
			continue
		}
		for c := range f.Chunks {
			jobs = append(jobs, sumJob{i, c, min(ChunkSize, f.Size-int64(c)*ChunkSize)})
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].size > jobs[b].size })
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan sumJob)
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, readSize)
			for j := range next {
				var err error
				if j.chunk < 0 {
					err = verifyFile(dir, files[j.file])
				} else {
					err = verifyChunk(dir, files[j.file], j.chunk, buf)
				}
				if err != nil {
					mu.Lock()
					errs[j.file] = errors.Join(errs[j.file], err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// verifyChunk checks chunk c of f; the last chunk also checks that the file
// ends where the manifest says.
func verifyChunk(dir string, f File, c int, buf []byte) error {
	fh, err := os.Open(filepath.Join(dir, f.Name))
	if err != nil {
		return err
	}
	defer fh.Close()
	off := int64(c) * ChunkSize
	end := min(off+ChunkSize, f.Size)
	var sum uint32
	for off < end {
		k, err := fh.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		sum = crc32.Update(sum, castagnoli(), buf[:k])
		off += int64(k)
		if err != nil && off < end {
			return fmt.Errorf("image file %s is damaged (ends at %d bytes, the manifest says %d)", f.Name, off, f.Size)
		}
	}
	if got := fmt.Sprintf("%08x", sum); got != f.Chunks[c] {
		return fmt.Errorf("image file %s is damaged (crc32c %s of bytes %d to %d, the manifest says %s)",
			f.Name, got, int64(c)*ChunkSize, end, f.Chunks[c])
	}
	if c == len(f.Chunks)-1 {
		if k, _ := fh.ReadAt(buf[:1], end); k != 0 {
			return fmt.Errorf("image file %s is damaged (longer than the manifest's %d bytes)", f.Name, f.Size)
		}
	}
	return nil
}
