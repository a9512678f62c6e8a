package engine

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// capFileSize lowers the soft RLIMIT_FSIZE of a running process to limit,
// keeping its hard limit: a write past limit then fails with EFBIG (and
// SIGXFSZ), so no file it writes grows past limit. Tasks it forks inherit
// the limit; CRIU's restorer sets every restored task's limits back to the
// image's (checkpoint-restore/criu criu/pie/restorer.c, restore_rlims()),
// which lowering only the soft limit leaves it allowed to do.
func capFileSize(pid int, limit int64) error {
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, nil, &old); err != nil {
		return fmt.Errorf("prlimit RLIMIT_FSIZE of pid %d: %w", pid, err)
	}
	if old.Cur != unix.RLIM_INFINITY && old.Cur <= uint64(limit) {
		return nil
	}
	lim := unix.Rlimit{Cur: uint64(limit), Max: old.Max}
	if old.Max != unix.RLIM_INFINITY && old.Max < lim.Cur {
		lim.Cur = old.Max
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		return fmt.Errorf("prlimit RLIMIT_FSIZE of pid %d to %d: %w", pid, limit, err)
	}
	return nil
}

// writableDir creates dir (0700) if it is missing and says whether this
// process may create files in it, without writing anything: access(2) with
// W_OK answers EROFS for a read-only mount and EACCES for a directory of
// another user.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	return nil
}
