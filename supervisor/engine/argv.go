package engine

import (
	"fmt"
	"path/filepath"
	"strings"
)

// IsJava says whether argv[0] is a java launcher, the only place where an
// engine's -XX flags can go.
func IsJava(argv []string) bool {
	return len(argv) > 0 && filepath.Base(argv[0]) == "java"
}

// withFlags puts flags right after the java executable (not into
// JAVA_TOOL_OPTIONS, which the JVM announces on stderr and which a restore
// would not see), so the user's own flags after them still win.
func withFlags(argv []string, flags ...string) []string {
	out := make([]string, 0, len(argv)+len(flags))
	out = append(out, argv[0])
	out = append(out, flags...)
	return append(out, argv[1:]...)
}

func requireJava(engine string, argv []string) error {
	if !IsJava(argv) {
		return fmt.Errorf("engine %s needs the command to start with the java executable, got %q", engine, argv[0])
	}
	return nil
}

// hasFlag reports whether the user already gave a flag with this prefix.
func hasFlag(argv []string, prefix string) bool {
	for _, a := range argv[1:] {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

// CRaCLaunchArgv: -XX:CRaCCheckpointTo=DIR, the resource policies, and the
// engine pin (-XX:CRaCEngine=warp, or the flag that makes the JDK use CRIU;
// "" when the user chose the engine).
func CRaCLaunchArgv(argv []string, o Options, pin string) []string {
	flags := []string{"-XX:CRaCCheckpointTo=" + o.Dir}
	if pin != "" {
		flags = append(flags, pin)
	}
	if o.ResourcePolicies != "" {
		flags = append(flags, "-Djdk.crac.resource-policies="+o.ResourcePolicies)
	}
	return withFlags(argv, flags...)
}

// CRaCRestoreArgv is the restoring launcher: only restore-settable flags may
// accompany -XX:CRaCRestoreFrom. The engine is the one that made the image
// (pinned by stasis or the user's own), and the user's
// -XX:CRaCEngineOptions apply at restore too (openjdk/crac criuengine.cpp
// marks criu_location, args and legacy_criu CHECKPOINT|RESTORE).
func CRaCRestoreArgv(java, dir string, flags ...string) []string {
	return append([]string{java, "-XX:CRaCRestoreFrom=" + dir}, flags...)
}

// OpenJ9LaunchArgv enables the mode STASIS_OPENJ9_API chose: CRaC mode
// with -XX:CRaCCheckpointTo=DIR, or the CRIUSupport API with
// -XX:+EnableCRIUSupport (not twice when the command has it already) and
// -Dstasis.imageDir=DIR as a convenience for the application, which may as
// well read STASIS_IMAGE_DIR from its environment.
func OpenJ9LaunchArgv(argv []string, o Options) []string {
	if openJ9API(o) == OpenJ9CRaC {
		return withFlags(argv, "-XX:CRaCCheckpointTo="+o.Dir)
	}
	var flags []string
	if !hasFlag(argv, "-XX:+EnableCRIUSupport") {
		flags = append(flags, "-XX:+EnableCRIUSupport")
	}
	return withFlags(argv, append(flags, "-Dstasis.imageDir="+o.Dir)...)
}

// CRIULaunchArgv keeps HotSpot's perf data out of /tmp: a plain JVM maps
// /tmp/hsperfdata_USER/PID, and a restore in a container whose /tmp lacks
// that file fails ("Can't open file tmp/hsperfdata_root/1001").
func CRIULaunchArgv(argv []string) []string {
	if !IsJava(argv) || hasFlag(argv, "-XX:+PerfDisableSharedMem") || hasFlag(argv, "-XX:-UsePerfData") {
		return argv
	}
	return withFlags(argv, "-XX:+PerfDisableSharedMem")
}

// CRIUDumpArgv dumps the tree rooted at pid. --shell-job: the JVM is not the
// leader of a session of its own; --tcp-established and --file-locks: a
// service holds both; the log is relative to DIR. unprivileged adds
// --unprivileged, for containers without SYS_ADMIN (see Unprivileged).
func CRIUDumpArgv(criu string, pid int, dir, log string, unprivileged bool) []string {
	argv := []string{criu, "dump", "-t", fmt.Sprint(pid), "-D", dir,
		"--shell-job", "--tcp-established", "--file-locks", "-v4", "-o", log}
	if unprivileged {
		argv = append(argv, "--unprivileged")
	}
	return argv
}

// CRIURestoreArgv restores detached (-d) as a sibling (--restore-sibling):
// the restored JVM becomes a child of stasis, which thus gets its real exit
// status (a foreground `criu restore` exits 0 whatever the JVM does).
// Everything criu writes goes to workDir (-W: its log, stats-restore; the
// pidfile is in it too), so the image directory may be read-only and shared.
// Each inherited pipe is one --inherit-fd.
// unprivileged adds --unprivileged, for containers without what a
// privileged restore needs (see Unprivileged): without CAP_NET_ADMIN, for
// one, it fails setting SO_SNDBUFFORCE on the JVM's sockets (measured under
// Docker with --cap-add SYS_ADMIN and SYS_PTRACE).
func CRIURestoreArgv(criu, dir, workDir, pidfile, log string, inherit []InheritPipe, unprivileged bool) []string {
	argv := []string{criu, "restore", "-D", dir, "-W", workDir,
		"--shell-job", "--tcp-established", "--file-locks",
		"-d", "--restore-sibling", "--pidfile", pidfile, "-v4", "-o", log}
	for _, p := range inherit {
		argv = append(argv, "--inherit-fd", fmt.Sprintf("fd[%d]:pipe:[%d]", p.FD, p.Inode))
	}
	if unprivileged {
		argv = append(argv, "--unprivileged")
	}
	return argv
}

// InheritPipe is one `--inherit-fd fd[FD]:pipe:[INODE]`: the restored tree's
// pipe INODE, whose other end was outside the dumped tree, becomes criu's
// descriptor FD instead. checkpoint-restore/criu criu/pipes.c: open_pipe()
// reopens the inherited descriptor (found by the name pipe_d_name() gives,
// "pipe:[INODE]") and restores no pipe data into it; dump_one_pipe_data()
// saves no data for a write-only end, so what the JVM wrote before the dump
// belongs to the checkpoint run alone.
type InheritPipe struct {
	FD    int
	Inode uint64
}
