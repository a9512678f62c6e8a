package image

import (
	"os"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// willNeedChunk: the kernel clamps one POSIX_FADV_WILLNEED to its readahead
// window (mm/readahead.c, force_page_cache_ra(): max of the device's io_pages
// and the file's ra_pages; measured: half of a 16 MiB file), so the file is
// advised a chunk at a time.
const willNeedChunk = 2 << 20

// willNeed is posix_fadvise(POSIX_FADV_WILLNEED) over the whole file: the
// kernel starts asynchronous readahead and returns.
func willNeed(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	for off := int64(0); off < fi.Size(); off += willNeedChunk {
		_ = linux.Retry("fadvise64", func() error {
			return unix.Fadvise(int(f.Fd()), off, willNeedChunk, unix.FADV_WILLNEED)
		})
	}
}
