package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ExitedName is the note a stasis leaves in its state directory when it
// exits: without it, `stasis healthcheck` after the container's main
// process ended would find no socket and say "starting", as before the start.
const ExitedName = "exited"

// ExitedPath is the exit note's path in the state directory dir.
func ExitedPath(dir string) string { return filepath.Join(dir, ExitedName) }

// MarkExited writes the exit note: one line, when and how stasis ended.
// Listen removes it, so it only ever describes the last stasis of dir.
func MarkExited(dir, how string) error {
	line := fmt.Sprintf("%s at %s\n", strings.ReplaceAll(how, "\n", " "), time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(ExitedPath(dir), []byte(line), 0o600); err != nil {
		return fmt.Errorf("write exit note: %w", err)
	}
	return nil
}

// Exited returns the exit note of dir, if the last stasis there left one.
func Exited(dir string) (string, bool) {
	b, err := os.ReadFile(ExitedPath(dir))
	if err != nil || errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}
