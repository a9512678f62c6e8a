package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"stasis/reaper"
	"stasis/triggers/attach"
)

// CRIU is the engine for any HotSpot JDK (Temurin, Debian's OpenJDK,
// Corretto): stasis dumps the JVM with CRIU itself and restores it as its
// own child.
type CRIU struct{}

func (*CRIU) Name() string        { return "criu" }
func (*CRIU) PreservesPIDs() bool { return true }
func (*CRIU) FIFOStdio() bool     { return true }
func (*CRIU) DumpLog() string     { return "dump.log" }
func (*CRIU) RestoreLog() string  { return "restore.log" }

func (*CRIU) LaunchArgv(command []string, _ Options) ([]string, error) {
	return CRIULaunchArgv(command), nil
}

// Checkpoint: GC and trim through the attach client (a Jetty service's image
// went from 118 MB to 52 MB), stop reading the stdio FIFOs during the dump,
// dump, and check that the dump says it finished and the JVM is gone.
// CRIU 4.2.1 does not save what sits in the FIFOs (the dumped tree holds only
// their write ends; no fifo-data.img is written), so after the dump stasis
// prints it: every line appears once, in this run.
func (e *CRIU) Checkpoint(ctx context.Context, j *CheckpointJob) error {
	if j.GC {
		shrink(ctx, j)
	}
	j.Stdio.Pause()
	logPath := filepath.Join(j.Dir, e.DumpLog())
	err := runCRIU(ctx, j.Host, CRIUDumpArgv(j.CRIU, j.JVM.Pid, j.Dir, e.DumpLog()), logPath, DefaultLogLimit)
	if err == nil && !logSays(logPath, "Dumping finished successfully") {
		err = errors.New("criu dump exited 0 but its log does not say it finished")
	}
	if err != nil {
		j.Stdio.Resume()
		return withTail(err, logPath, 10)
	}
	if err := waitGone(ctx, j.JVM); err != nil {
		j.Stdio.Resume()
		return err
	}
	j.Stdio.Resume()
	return nil
}

// shrink runs GC.run and System.trim_native_heap; failing that only makes the
// image larger, so it is a warning.
func shrink(ctx context.Context, j *CheckpointJob) {
	for _, c := range []string{"GC.run", "System.trim_native_heap"} {
		start := time.Now()
		_, err := attach.JCmd(ctx, j.JVM.Pid, c, attach.Options{Timeout: 30 * time.Second, Log: j.Log})
		if err != nil {
			j.Log.Warn("before the checkpoint: "+c+" failed, the image will be larger", "err", err)
			continue
		}
		j.Log.Info("before the checkpoint: "+c, "ms", time.Since(start).Milliseconds())
	}
}

// waitGone waits for the dumped JVM to die: CRIU kills it with SIGKILL once
// the image is written.
func waitGone(ctx context.Context, p *reaper.Process) error {
	ctx, cancel := context.WithTimeout(ctx, dumpWait)
	defer cancel()
	if _, err := p.Wait(ctx); err != nil {
		return fmt.Errorf("the JVM (pid %d) is still running after its dump: %w", p.Pid, err)
	}
	return nil
}

// Restore runs `criu restore -d --restore-sibling`: the restored JVM becomes
// stasis's child and criu exits once it runs.
func (e *CRIU) Restore(ctx context.Context, j *RestoreJob) (*reaper.Process, error) {
	return criuRestore(ctx, j, e.RestoreLog())
}

func criuRestore(ctx context.Context, j *RestoreJob, logName string) (*reaper.Process, error) {
	// --pidfile fails the whole restore when the file exists.
	if err := os.Remove(j.PIDFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale pidfile: %w", err)
	}
	logPath := filepath.Join(j.Dir, logName)
	argv := CRIURestoreArgv(j.CRIU, j.Dir, j.PIDFile, logName, !haveCap(capNetAdmin))
	if err := runCRIU(ctx, j.Host, argv, logPath, j.LogLimit); err != nil {
		return nil, withTail(err, logPath, 10)
	}
	b, err := os.ReadFile(j.PIDFile)
	if err != nil {
		return nil, fmt.Errorf("criu restore left no pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("criu restore wrote a bad pidfile %q", b)
	}
	// The JVM may already have exited: Adopt hands over the status the reaper
	// kept for it.
	return j.Host.Adopt(pid), nil
}
