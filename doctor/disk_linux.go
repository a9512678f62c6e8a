package doctor

import (
	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// freeBytes is the space an unprivileged writer may use where dir is (or
// will be).
func freeBytes(dir string) (int64, string) {
	var st unix.Statfs_t
	at := existing(dir)
	if err := linux.Retry("statfs", func() error { return unix.Statfs(at, &st) }); err != nil {
		return -1, at + ": " + err.Error()
	}
	return int64(st.Bavail) * st.Bsize, ""
}
