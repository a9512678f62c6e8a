package doctor

import (
	"errors"

	"golang.org/x/sys/unix"
)

// freeBytes is the space an unprivileged writer may use where dir is (or
// will be).
func freeBytes(dir string) (int64, string) {
	var st unix.Statfs_t
	at := existing(dir)
	for {
		err := unix.Statfs(at, &st)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, "statfs " + at + ": " + err.Error()
		}
		return int64(st.Bavail) * st.Bsize, ""
	}
}
