package engine

import (
	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// onTmpfs says whether dir is on a tmpfs, the only place CRIU saves its
// kerndat cache (checkpoint-restore/criu criu/kerndat.c, kerndat_save_cache():
// fstatfs and TMPFS_MAGIC).
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	err := linux.Retry("statfs", func() error { return unix.Statfs(dir, &st) })
	return err == nil && st.Type == unix.TMPFS_MAGIC
}
