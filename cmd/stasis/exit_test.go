package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"stasis/attach"
	"stasis/supervisor"
)

// runCode is main without os.Exit: the status stasis exits with.
func runCode(args []string, environ map[string]string, stdout, stderr io.Writer) int {
	code, _ := exitCode(run(args, environ, stdout, stderr))
	return code
}

// Every outcome maps to the status PRODUCT.md gives it, wrapped or not, and
// to the one line stasis says about it.
func TestExitCode(t *testing.T) {
	exit7 := &supervisor.ExitError{Name: "java", Status: unix.WaitStatus(7 << 8)}
	term := &supervisor.ExitError{Name: "java", Status: unix.WaitStatus(syscall.SIGTERM)}
	notFound := &supervisor.StartError{Argv0: "/nope", Err: exec.ErrNotFound}
	noExec := &supervisor.StartError{Argv0: "/etc/passwd", Err: syscall.EACCES}
	ckpt := &supervisor.CheckpointError{Err: errors.New("criu dump: exit status 1")}
	rest := &supervisor.RestoreError{Err: errors.New("criu restore: exit status 1")}
	conf := &ConfigError{Setting: "STASIS_MODE", Value: "x", Problem: "must be one of auto"}
	usage := &UsageError{Problem: `unexpected argument "x"`}
	jcmdUsage := &attach.UsageError{Err: errors.New(`PID "x" is not a process id`)}
	wrap := func(err error) error { return fmt.Errorf("run phases: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		code int
		why  string
	}{
		{"success", nil, 0, ""},
		{"help", errHelpShown, 0, ""},
		{"wrapped help", wrap(errHelpShown), 0, ""},
		{"answered no", errNotOK, 1, ""},
		{"wrapped no", wrap(errNotOK), 1, ""},
		{"other error", errors.New("no control socket"), 1, "no control socket"},
		{"config", conf, 2, `STASIS_MODE="x": must be one of auto`},
		{"wrapped config", wrap(conf), 2, `run phases: STASIS_MODE="x": must be one of auto`},
		{"environment", &ConfigError{Problem: "env: bad"}, 2, "env: bad"},
		{"usage", usage, 2, `unexpected argument "x"`},
		{"jcmd usage", jcmdUsage, 2, `PID "x" is not a process id`},
		{"checkpoint", ckpt, 3, "checkpoint failed: criu dump: exit status 1"},
		{"wrapped checkpoint", wrap(ckpt), 3, "checkpoint failed: criu dump: exit status 1"},
		// The warm-up command or criu not found is the checkpoint's failure.
		{"checkpoint of a start error", &supervisor.CheckpointError{Err: notFound}, 3, "checkpoint failed: /nope: command not found"},
		{"restore", rest, 4, "restore failed: criu restore: exit status 1 (STASIS_ON_RESTORE_FAILURE=fail)"},
		{"wrapped restore", wrap(rest), 4, "restore failed: criu restore: exit status 1 (STASIS_ON_RESTORE_FAILURE=fail)"},
		{"restore of a start error", &supervisor.RestoreError{Err: noExec}, 4, "restore failed: /etc/passwd: cannot execute: permission denied (STASIS_ON_RESTORE_FAILURE=fail)"},
		{"not found", notFound, 127, "/nope: command not found"},
		{"not executable", noExec, 126, "/etc/passwd: cannot execute: permission denied"},
		{"wrapped not found", wrap(notFound), 127, "/nope: command not found"},
		{"jvm exit", exit7, 7, ""},
		{"wrapped jvm exit", wrap(exit7), 7, ""},
		{"jvm killed", term, 128 + 15, ""},
	} {
		code, why := exitCode(tc.err)
		if code != tc.code || why != tc.why {
			t.Errorf("%s: exitCode(%v) = %d, %q; want %d, %q", tc.name, tc.err, code, why, tc.code, tc.why)
		}
	}
}

// What a subcommand says once, and its status, through run as main calls it:
// the prefix is added in one place (tell), never twice or not at all.
func TestSubcommandLines(t *testing.T) {
	env := map[string]string{"STASIS_STATE_DIR": t.TempDir()}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"version", "x"}, 2, `stasis version: unexpected argument "x"`},
		{[]string{"status", "x"}, 2, `stasis status: unexpected argument "x"`},
		{[]string{"inspect", "a", "b"}, 2, `stasis inspect: unexpected argument "b"`},
		{[]string{"checkpoint", "--mode"}, 2, "stasis checkpoint: flag --mode needs a value (see stasis --help)"},
		{[]string{"healthcheck", "--mode=x"}, 2, `stasis healthcheck: STASIS_MODE="x": must be one of auto, checkpoint, restore, run`},
		{[]string{"jcmd"}, 2, "stasis jcmd: usage: stasis jcmd PID COMMAND [ARGS...] (COMMAND help lists the JVM's commands)"},
		{[]string{"jcmd", "abc", "VM.version"}, 2, `stasis jcmd: PID "abc" is not a process id`},
		{[]string{"jcmd", "1073741824", "VM.version"}, 1, "stasis jcmd: no process with pid 1073741824"},
		{[]string{"status", "-h"}, 0, ""},
		{[]string{"healthcheck"}, 1, ""}, // the verdict is on stdout
		{[]string{"--mode=x", "--", "java"}, 2, `stasis: STASIS_MODE="x": must be one of auto, checkpoint, restore, run`},
	} {
		var out, errb strings.Builder
		code := runCode(tc.args, env, &out, &errb)
		if code != tc.code || strings.TrimSuffix(errb.String(), "\n") != tc.stderr {
			t.Errorf("stasis %s: exit %d, stderr %q; want %d, %q", strings.Join(tc.args, " "), code, errb.String(), tc.code, tc.stderr)
		}
	}
}
