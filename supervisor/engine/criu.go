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

	"stasis/attach"
	"stasis/reaper"
)

// CRIU is the engine for any HotSpot JDK (Temurin, Debian's OpenJDK,
// Corretto): stasis dumps the JVM with CRIU itself and restores it as its
// own child.
type CRIU struct{}

func (*CRIU) Name() string       { return "criu" }
func (*CRIU) FIFOStdio() bool    { return true }
func (*CRIU) DumpLog() string    { return "dump.log" }
func (*CRIU) RestoreLog() string { return "restore.log" }

// Facts: stasis runs CRIU for both phases, so an external trigger is the
// only one (the JVM cannot checkpoint itself), and nothing in a plain JDK
// checks the CPU's features at restore.
func (*CRIU) Facts() Facts {
	return Facts{CRIU: CRIUByStasis, PreservesPIDs: true, CPUBound: true}
}

func (*CRIU) LaunchArgv(command []string, _ Options) ([]string, error) {
	return CRIULaunchArgv(command), nil
}

// Checkpoint: GC and trim through the attach client (a Jetty service's image
// went from 118 MB to 52 MB), stop reading the stdio pipes during the dump,
// dump, and check that the dump says it finished and the JVM is gone.
// CRIU does not save what sits in the pipes (the dumped tree holds only their
// write ends: checkpoint-restore/criu criu/pipes.c, dump_one_pipe_data()), so
// after the dump stasis prints it: every line appears once, in this run.
func (e *CRIU) Checkpoint(ctx context.Context, j *CheckpointJob) error {
	if j.GC {
		shrink(ctx, j)
	}
	j.Stdio.Pause()
	logPath := filepath.Join(j.Dir, e.DumpLog())
	argv := CRIUDumpArgv(j.CRIU, j.JVM.Pid, j.Dir, e.DumpLog(), Unprivileged(PhaseCheckpoint, ReadHostFacts()))
	err := runCRIU(ctx, j.Host, argv, nil, logPath, DefaultLogLimit)
	if err == nil {
		if verr := dumpSucceeded(j.Dir); verr != nil {
			err = fmt.Errorf("criu dump exited 0 but %w", verr)
		}
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
	makeKdat(ctx, j)
	return nil
}

// makeKdat leaves CRIU's kernel probe beside the image for the
// restores to come (kdat.go); without it they probe in full, as CRIU does.
func makeKdat(ctx context.Context, j *CheckpointJob) {
	if j.KdatDir == "" {
		return
	}
	start := time.Now()
	if err := MakeKdat(ctx, j.Host, j.CRIU, j.KdatDir); err != nil {
		j.Log.Info("no kerndat cache: restores probe the kernel in full", "err", err)
		return
	}
	j.Log.Info("kerndat cache made for the restores", "dir", j.KdatDir, "ms", time.Since(start).Milliseconds())
}

// shrink makes the image small: a full GC that also gives the freed heap
// back to the OS, and a trim of the native heap. A plain GC.run leaves G1's
// heap committed (the pages are still dumped) unless MaxHeapFreeRatio allows
// it to shrink, so both free-ratio flags (manageable, so settable through
// attach) are lowered for that one GC and put back before the dump; the heap
// grows again as the restored service needs it. Measured on the demo
// service: resident 126 MB after GC.run alone, 72 MB with the ratios
// lowered. Failing any of this only makes the image larger: a warning.
func shrink(ctx context.Context, j *CheckpointJob) {
	jcmd := func(line string) (string, error) {
		return attach.JCmd(ctx, j.JVM.Pid, line, attach.Options{Timeout: 30 * time.Second, Log: j.Log})
	}
	start := time.Now()
	minRatio, maxRatio, ratiosErr := freeRatios(jcmd)
	if ratiosErr == nil {
		ratiosErr = setFlags(jcmd, [2]string{"MinHeapFreeRatio", "0"}, [2]string{"MaxHeapFreeRatio", "10"})
	}
	for _, c := range []string{"GC.run", "System.trim_native_heap"} {
		if _, err := jcmd(c); err != nil {
			j.Log.Warn("before the checkpoint: "+c+" failed, the image will be larger", "err", err)
		}
	}
	if ratiosErr != nil {
		j.Log.Warn("before the checkpoint: cannot lower the heap free ratios, the heap stays committed", "err", ratiosErr)
	} else if err := setFlags(jcmd, [2]string{"MaxHeapFreeRatio", maxRatio}, [2]string{"MinHeapFreeRatio", minRatio}); err != nil {
		j.Log.Warn("cannot restore MinHeapFreeRatio and MaxHeapFreeRatio", "err", err)
	}
	j.Log.Info("before the checkpoint: GC, heap shrunk, native heap trimmed", "ms", time.Since(start).Milliseconds())
}

// freeRatios reads MinHeapFreeRatio and MaxHeapFreeRatio from VM.flags -all.
func freeRatios(jcmd func(string) (string, error)) (min, max string, err error) {
	out, err := jcmd("VM.flags -all")
	if err != nil {
		return "", "", err
	}
	return parseFreeRatios(out)
}

func parseFreeRatios(out string) (min, max string, err error) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[2] == "=" {
			switch f[1] {
			case "MinHeapFreeRatio":
				min = f[3]
			case "MaxHeapFreeRatio":
				max = f[3]
			}
		}
	}
	if min == "" || max == "" {
		return "", "", errors.New("VM.flags -all lists no MinHeapFreeRatio and MaxHeapFreeRatio")
	}
	return min, max, nil
}

// setFlags sets manageable flags in the order given: the JVM refuses a
// MinHeapFreeRatio above MaxHeapFreeRatio even for a moment, so lowering sets
// Min first and restoring sets Max first.
func setFlags(jcmd func(string) (string, error), flags ...[2]string) error {
	for _, f := range flags {
		if _, err := jcmd("VM.set_flag " + f[0] + " " + f[1]); err != nil {
			return err
		}
	}
	return nil
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
	if j.StdioPipes[0] == 0 || j.StdioPipes[1] == 0 {
		return nil, errors.New("the image does not name the JVM's stdout and stderr pipes (an image from an older stasis, whose stdio were FIFOs): checkpoint again")
	}
	if err := clearWorkFiles(j.WorkDir, logName, j.PIDFile); err != nil {
		return nil, err
	}
	logPath := filepath.Join(j.WorkDir, logName)
	// The new pipes' write ends are criu's fds 3 and 4 (exec.Cmd.ExtraFiles).
	inherit := []InheritPipe{{FD: 3, Inode: j.StdioPipes[0]}, {FD: 4, Inode: j.StdioPipes[1]}}
	unprivileged := Unprivileged(PhaseRestore, ReadHostFacts())
	useKdat, env, fresh := kdatEnv(j, unprivileged)
	argv := CRIURestoreArgv(j.CRIU, j.Dir, j.WorkDir, j.PIDFile, logName, inherit, useKdat || unprivileged)
	err := runHeld(ctx, j, argv, env, logPath)
	if fresh != "" {
		// CRIU probed in full and saved its cache there: keep it.
		if err == nil {
			_ = keepKdat(j.KdatSave, j.CRIU, fresh)
		}
		_ = os.RemoveAll(fresh)
	}
	// Only the restored JVM holds the write ends now: its exit brings EOF.
	if cerr := j.Stdio.CloseChildEnds(); cerr != nil {
		j.Log.Warn("close stasis's copies of the JVM's stdio", "err", cerr)
	}
	var damaged *VerifyError
	if err != nil && !errors.As(err, &damaged) {
		if useKdat && ctx.Err() == nil {
			err = fmt.Errorf("%w (%w)", err, ErrKdatCache)
		}
		return nil, withTail(err, logPath, 10)
	}
	if err != nil {
		return nil, err
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

// kdatEnv is criu's environment: with stasis's kerndat cache, CRIU runs
// --unprivileged, the only mode in which it reads its cache from a
// directory stasis names (kdat.go). Without one, a restore that runs
// --unprivileged anyway (no CAP_NET_ADMIN: Docker's default) gets a fresh
// directory on a tmpfs, where CRIU saves the cache it makes: fresh, for
// keepKdat (into KdatSave, the state directory) once the restore succeeded.
func kdatEnv(j *RestoreJob, unprivileged bool) (use bool, env []string, fresh string) {
	dir, why := "", "off"
	if !j.NoKdat {
		dir, why = kdatUsable(j.KdatDir, j.CRIU)
		if dir == "" && j.KdatSave != "" {
			if saved, _ := kdatUsable(j.KdatSave, j.CRIU); saved != "" {
				dir = saved
			}
		}
	}
	env = withoutXDG(os.Environ())
	if dir != "" {
		j.Kdat = "cache"
		return true, append(env, "XDG_RUNTIME_DIR="+dir), ""
	}
	j.Kdat = "probe (" + why + ")"
	if unprivileged && j.KdatSave != "" && !j.NoKdat {
		if tmp, err := os.MkdirTemp(tmpfsDir(j.WorkDir), ".stasis-kdat-"); err == nil {
			return false, append(env, "XDG_RUNTIME_DIR="+tmp), tmp
		}
	}
	return false, env, ""
}

// VerifyError is an image whose checksums do not match its manifest: the
// restore never resumed it.
type VerifyError struct{ Err error }

func (e *VerifyError) Error() string { return e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// runHeld runs criu restore while j.Verify checks the image, the restored
// tasks held before they resume until its verdict (hold.go). A damaged
// image kills CRIU at once, wherever it is, and nothing resumes. Where no
// task can be held, the check comes first.
func runHeld(ctx context.Context, j *RestoreJob, argv, env []string, logPath string) error {
	run := func(ctx context.Context, argv []string) error {
		return runCRIU(ctx, j.Host, argv, env, logPath, j.LogLimit, j.Stdio.Stdout(), j.Stdio.Stderr())
	}
	if j.Verify == nil {
		return run(ctx, argv)
	}
	h, err := newHold(j.WorkDir)
	if err != nil {
		j.Log.Info("checking the image's checksums before CRIU starts", "why", err)
		start := time.Now()
		if err := j.Verify(); err != nil {
			return &VerifyError{Err: err}
		}
		j.VerifyMS = time.Since(start).Milliseconds()
		return run(ctx, argv)
	}
	defer h.close()
	j.VerifyHeld = true
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		err error
		ms  int64
	}
	verdict := make(chan result, 1)
	go func() {
		start := time.Now()
		err := j.Verify()
		h.tell(err)
		if err != nil {
			cancel()
		}
		verdict <- result{err, time.Since(start).Milliseconds()}
	}()
	err = run(cctx, append(argv, "--action-script", h.script))
	if err != nil && ctx.Err() != nil {
		return err // a stop or the restore timeout: no need for the verdict
	}
	v := <-verdict
	j.VerifyMS = v.ms
	if v.err != nil {
		return &VerifyError{Err: v.err}
	}
	return err
}

// clearWorkFiles makes the work directory (the state directory, created by
// nobody else before this point) and removes what an earlier restore left
// there: --pidfile fails the whole restore when the file exists, and a stale
// log would pass for this run's in an error message.
func clearWorkFiles(dir, logName, pidfile string) error {
	if err := writableDir(dir); err != nil {
		return fmt.Errorf("STASIS_STATE_DIR: %w: a restore writes CRIU's log, work files and pidfile there (the image directory may be read-only); mount a writable directory there (Kubernetes: an emptyDir)", err)
	}
	for _, f := range []string{filepath.Join(dir, logName), filepath.Join(dir, "stats-restore"), pidfile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove what an earlier restore left (STASIS_STATE_DIR): %w", err)
		}
	}
	return nil
}
