package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// StatsDump is the file CRIU writes in its work directory after a dump
// succeeded, and only then: checkpoint-restore/criu criu/cr-dump.c,
// cr_dump_finish() calls write_stats(DUMP_STATS) in its success branch,
// before it logs "Dumping finished successfully" (criu/stats.c names the
// file). It does not depend on the log level, unlike the log line: at CRIU's
// RPC default level 2 (OpenJ9's default) the success line is never written.
const StatsDump = "stats-dump"

// dumpSucceeded is the verdict on a CRIU dump whose work directory is
// workDir: stats-dump is there. The logs are for diagnostics only. A stale
// stats-dump from an earlier image must have been removed before the dump
// started (image.Invalidate does).
func dumpSucceeded(workDir string) error {
	_, err := os.Stat(filepath.Join(workDir, StatsDump))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("CRIU wrote no %s in %s: the dump did not finish", StatsDump, workDir)
	default:
		return fmt.Errorf("check the dump's %s: %w", StatsDump, err)
	}
}
