package engine

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// noExec says whether dir's filesystem is mounted noexec (Docker's --tmpfs
// is, by default).
func noExec(dir string) bool {
	var st unix.Statfs_t
	err := linux.Retry("statfs", func() error { return unix.Statfs(dir, &st) })
	return err != nil || st.Flags&unix.ST_NOEXEC != 0
}

// openFIFO makes the FIFO and opens it read-write: an open for writing
// alone would block until the script opens it, which it may never do (CRIU
// can fail before pre-resume).
func openFIFO(path string) (*os.File, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("mkfifo %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}
