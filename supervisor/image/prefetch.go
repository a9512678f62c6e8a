package image

import (
	"cmp"
	"path/filepath"
	"slices"
)

// Prefetch asks the kernel to start reading the image's files into the page
// cache, largest first (the pages), and returns at once: the reads happen in
// the background while stasis checks the image and CRIU starts, and the
// checksums and CRIU then find the bytes in memory. Called the moment stasis
// starts in a mode that may restore; no manifest, nothing to do. It is a
// hint: any error is ignored.
func Prefetch(dir string) {
	m, err := Read(dir)
	if err != nil {
		return
	}
	files := append([]File(nil), m.Files...)
	slices.SortFunc(files, func(a, b File) int { return cmp.Compare(b.Size, a.Size) })
	for _, f := range files {
		willNeed(filepath.Join(dir, f.Name))
	}
}
