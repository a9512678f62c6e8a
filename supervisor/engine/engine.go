// Package engine holds one file per checkpoint runtime: crac (OpenJDK CRaC,
// Azul Zulu), warp (Azul's Warp engine), openj9 (IBM Semeru's CRIU support)
// and criu (stasis runs CRIU itself, for any HotSpot JDK). Each knows its
// runtime's flags, how a checkpoint is triggered and judged complete, and how
// a restore is started and which process is then the application. The facts
// behind each choice, with their sources, are in docs/runtimes.md.
//
// Command lines are built by pure functions (argv.go) checked by table tests.
// It must not import supervisor: the supervisor passes a Host.
package engine

import (
	"context"
	"log/slog"
	"os/exec"
	"time"

	"stasis/reaper"
	"stasis/stdio"
)

// Host is what an engine needs from the supervisor: every process goes
// through the one reaper.
type Host interface {
	Start(cmd *exec.Cmd) (*reaper.Process, error)
	Adopt(pid int) *reaper.Process
	HasChildren() bool
}

// An Engine is one checkpoint runtime.
type Engine interface {
	Name() string
	// Facts are the engine's answers to the rest of stasis (facts.go).
	Facts() Facts
	// FIFOStdio (a name from when these were FIFOs in the image directory):
	// stasis restores the JVM with criu itself, so stasis hands CRIU new
	// pipes for the JVM's stdout and stderr with --inherit-fd, found by the
	// old pipes' inodes in the manifest. Otherwise the engine's restoring
	// launcher gets the pipes as its own stdio. Either way the JVM's stdio
	// is plain pipes and nothing of it lives in the image directory.
	FIFOStdio() bool
	// DumpLog is the engine's dump log in the image directory. RestoreLog is
	// its restore log: in RestoreJob.WorkDir where stasis runs criu itself,
	// else where the engine writes it.
	DumpLog() string
	RestoreLog() string
	// ImageFiles are the files the engine (and its runtime) creates in the
	// image directory, as printf-style templates (see image.Names): only
	// these are ever listed in a manifest or removed (files.go).
	ImageFiles() []string
	// RestoreSeesNewEnv: the restored JVM sees the restore's environment
	// (CRaC); otherwise it keeps the checkpoint's (env.go).
	RestoreSeesNewEnv() bool
	// LaunchArgv is the checkpoint run's command line: the user's command
	// with the engine's flags right after the java executable.
	LaunchArgv(command []string, o Options) ([]string, error)
	// Checkpoint makes the image of a running JVM. It returns once the image
	// is complete and the JVM is gone, or with an error, the JVM possibly
	// still running.
	Checkpoint(ctx context.Context, j *CheckpointJob) error
	// Restore starts the restored application and returns the process that
	// stands for it: its exit status is the application's.
	Restore(ctx context.Context, j *RestoreJob) (*reaper.Process, error)
}

// LaunchEnver is an engine whose JVM needs variables in its environment at
// the checkpoint launch, besides stasis's own environment. An optional
// interface, so that engines without such needs stay as they are.
type LaunchEnver interface {
	LaunchEnv(o Options) []string
}

// Moder is an engine with launch modes that exclude each other (OpenJ9's
// two APIs): Mode says which one the JVM gets and its flags, for the log.
// An optional interface, like LaunchEnver.
type Moder interface {
	Mode(o Options) (setting, value, flags string)
}

// Options are the settings an engine's command lines depend on.
type Options struct {
	Dir              string // the image directory
	CRIU             string // the criu binary (criu and openj9 engines)
	ResourcePolicies string // crac: -Djdk.crac.resource-policies
	OpenJ9API        string // openj9: criusupport (default) or crac (STASIS_OPENJ9_API)
	// Command is the user's command: crac passes its -XX:CRaCEngineOptions
	// on to the restore, where they apply too.
	Command []string
}

// CheckpointJob is one checkpoint of a running JVM.
type CheckpointJob struct {
	Options
	Host  Host
	JVM   *reaper.Process
	Stdio *stdio.Set
	GC    bool // criu: GC.run and System.trim_native_heap first
	// KdatDir: where the criu engine keeps CRIU's kerndat cache (in the
	// image directory), made after the dump for the restores to come
	// (kdat.go); "" for none.
	KdatDir string
	// AppTriggered: the application checkpoints itself (STASIS_CHECKPOINT_ON=app);
	// stasis only waits for the outcome and judges it.
	AppTriggered bool
	// Output holds the JVM's own lines about its engine (fed by stdio).
	Output *Output
	// DumpedPID is set by the engine when the process it dumped is not JVM
	// itself (CRaC's CRaCMinPid wrapper): the PID the image restores.
	DumpedPID int
	Log       *slog.Logger
}

// RestoreJob is one restore.
type RestoreJob struct {
	Options
	Host Host
	Java string // the java executable (crac, warp: the restoring launcher)
	PID  int    // the JVM's PID at checkpoint
	// LaunchFlags are the flags LaunchArgv added at the checkpoint run, from
	// the manifest (nil for images made before they were recorded).
	LaunchFlags []string
	Stdio       *stdio.Set
	PIDFile     string // where criu writes the restored root's PID
	// StateDir is stasis's own directory for this start: the crac launcher
	// runs there, since CRaC's `criu restore -W .` writes in its cwd.
	StateDir string
	Log      *slog.Logger
	LogLimit int64 // kill a CRIU whose log grows past this (a damaged image can loop)
	Output   *Output
	// WorkDir takes everything a criu restore writes (its log, stats, the
	// pidfile): the state directory, since the image directory may be
	// read-only and shared by several restores at once.
	WorkDir string
	// StdioPipes are the inodes of the pipes that were the JVM's stdout and
	// stderr at checkpoint (from the manifest).
	StdioPipes [2]uint64
	// KdatDir is stasis's kerndat cache for CRIU (kdat.go) beside the
	// image, made by the checkpoint run, "" for none;
	// NoKdat makes this restore probe in full (the retry after a failure).
	KdatDir string
	NoKdat  bool
	// KdatSave is where a restore that probed in full keeps what CRIU saved
	// (the state directory: a restore writes nothing in the image
	// directory), and where the next restore looks after KdatDir.
	KdatSave string
	// Kdat is set by a restore that runs criu: "cache", or "probe (why)".
	Kdat string
	// Verify checks the image's checksums. A restore that runs criu runs it
	// while CRIU restores, holding the restored tasks until its verdict
	// (hold.go), and reports VerifyMS and VerifyHeld; nil: checked already.
	Verify     func() error
	VerifyMS   int64
	VerifyHeld bool
}

// dumpWait bounds how long the JVM may take to die once its image is written
// (CRIU kills it with SIGKILL right after the dump).
const dumpWait = 30 * time.Second
