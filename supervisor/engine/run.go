package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"stasis/reaper"
)

// DefaultLogLimit bounds a CRIU log: with a truncated pages image, `criu
// restore` was measured looping with its -v4 log growing by gigabytes.
const DefaultLogLimit = 256 << 20

const logPoll = 50 * time.Millisecond

// runCRIU runs one criu command through the reaper and waits for it, killing
// it when ctx ends or when its log passes limit. It returns nil only for exit
// status 0. env, when not nil, is criu's environment; extra become criu's
// descriptors 3, 4, ... (for --inherit-fd).
func runCRIU(ctx context.Context, h Host, argv, env []string, logPath string, limit int64, extra ...*os.File) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// criu's own messages go to its log (-o); its stderr is stasis's, for the
	// few lines it prints before the log is open.
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = extra
	p, err := h.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	if argv[1] == "restore" {
		// A restore writes nothing but its log, stats and pidfile, so the
		// log's limit can be the file size limit: the log then stops at it
		// exactly, also in the half-restored tasks that write it (measured:
		// a task looping on a truncated pages image took the log 1.2 MB past
		// the limit between two polls). A dump writes the image: only polled.
		// Should prlimit fail, the poll below still bounds the log.
		_ = capFileSize(p.Pid, limit)
	}
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	for {
		select {
		case <-p.Done():
			ws := p.Status()
			if ws.Exited() && ws.ExitStatus() == 0 {
				return nil
			}
			return fmt.Errorf("criu %s %s", argv[1], reaper.Describe(ws))
		case <-ctx.Done():
			killWait(p)
			return fmt.Errorf("criu %s did not finish in time: %w", argv[1], ctx.Err())
		case <-tick.C:
			// At the limit, not past it: with the file size capped, a
			// looping CRIU's log stops growing exactly there.
			if fi, err := os.Stat(logPath); err == nil && fi.Size() >= limit {
				killWait(p)
				return fmt.Errorf("criu %s stopped: its log %s reached its limit of %d MiB", argv[1], logPath, limit>>20)
			}
		}
	}
}

func killWait(p *reaper.Process) {
	_ = p.Signal(9)
	<-p.Done()
}

// Tail returns the last n lines of a log file, for error messages. It reads
// at most the last 64 KiB: the logs can be huge.
func Tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 64<<10 {
		_, _ = f.Seek(-64<<10, 2)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// logError says whether a CRIU log reports a failed dump, and returns its
// first real error line. CRIU's verdict is "Dumping FAILED."; single "Error"
// lines are not one: every run as PID-1-in-a-namespace logs "rlimit: Can't
// setup RLIMIT_NOFILE ... Operation not permitted" and still succeeds.
func logError(path string) string {
	lines := Tail(path, 400)
	failed := false
	for _, l := range lines {
		if strings.Contains(l, "Dumping FAILED") {
			failed = true
		}
	}
	if !failed {
		return ""
	}
	for _, l := range lines {
		if strings.Contains(l, "Error (") && !strings.Contains(l, "RLIMIT_NOFILE") {
			return strings.TrimSpace(l)
		}
	}
	return "Dumping FAILED."
}

// withTail appends the last lines of a log to an error, as one block.
func withTail(err error, path string, n int) error {
	t := Tail(path, n)
	if len(t) == 0 {
		return err
	}
	return fmt.Errorf("%w\nlast lines of %s:\n  %s", err, filepath.Base(path), strings.Join(t, "\n  "))
}
