package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stateDirProblem says why stasis cannot create files in the state
// directory (a read-only root filesystem without a volume there, say), or
// nil. It creates nothing: `stasis healthcheck` asks it too. A missing
// directory is fine when its nearest existing parent is writable, since
// stasis creates it.
func stateDirProblem(dir string) error {
	d := dir
	for {
		fi, err := os.Stat(d)
		if err == nil && !fi.IsDir() {
			return fmt.Errorf("STASIS_STATE_DIR=%s: %s is not a directory", dir, d)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return fmt.Errorf("STASIS_STATE_DIR=%s: %w", dir, err)
		}
		d = filepath.Dir(d)
	}
	if err := unix.Access(d, unix.W_OK|unix.X_OK); err != nil {
		what := "is not writable"
		if d != dir {
			what = "is missing and cannot be created"
		}
		return fmt.Errorf("STASIS_STATE_DIR=%s %s (%s: %w): stasis keeps its control socket there and a restore its CRIU log and work files; mount a writable directory there (Kubernetes: an emptyDir)", dir, what, d, err)
	}
	return nil
}
