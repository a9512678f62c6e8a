package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Main implements `stasis jcmd PID COMMAND [ARGS...]`; args are the words
// after "jcmd". Like jcmd, the command and its arguments are joined with
// spaces into one diagnostic command line, so `stasis jcmd PID help` lists
// the JVM's commands. It prints the JVM's answer to stdout. Its error is a
// *UsageError for bad arguments (no process touched), a *Refusal when the
// JVM answers with an error, else why the JVM could not be asked; the
// caller picks the exit status.
func Main(args []string, stdout io.Writer) error {
	pid, cmdline, err := parseArgs(args)
	if err != nil {
		return &UsageError{Err: err}
	}
	out, err := JCmd(context.Background(), pid, cmdline, Options{})
	var jvm error
	if IsJVMError(err) {
		jvm = err
	}
	return Answer(stdout, out, err, jvm)
}

// UsageError is a bad argument to `stasis jcmd`.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Refusal is the JVM's own error answer to a command; its text is the
// JVM's, for printing as it is.
type Refusal struct{ Err error }

func (e *Refusal) Error() string { return e.Err.Error() }
func (e *Refusal) Unwrap() error { return e.Err }

// Answer ends `stasis jcmd` for either attach client: the reply out on
// stdout, ending in a newline, and nil; when err is not nil, err, or jvm
// (the JVM's own error, when err is one) as a *Refusal.
func Answer(stdout io.Writer, out string, err, jvm error) error {
	switch {
	case jvm != nil:
		return &Refusal{Err: jvm}
	case err != nil:
		return err
	}
	io.WriteString(stdout, out)
	if out != "" && !strings.HasSuffix(out, "\n") {
		io.WriteString(stdout, "\n")
	}
	return nil
}

var errUsage = errors.New("usage: stasis jcmd PID COMMAND [ARGS...] (COMMAND help lists the JVM's commands)")

// parseArgs checks the arguments before any process is touched.
func parseArgs(args []string) (int, string, error) {
	if len(args) == 0 {
		return 0, "", errUsage
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		return 0, "", fmt.Errorf("PID %q is not a process id", args[0])
	}
	if len(args) < 2 || strings.TrimSpace(args[1]) == "" {
		return 0, "", fmt.Errorf("missing COMMAND after PID %d (%q lists the JVM's commands)", pid, "stasis jcmd "+args[0]+" help")
	}
	cmdline := strings.Join(args[1:], " ")
	if len(cmdline) > maxArgLen {
		return 0, "", fmt.Errorf("command line is %d bytes; the JVM accepts at most %d", len(cmdline), maxArgLen)
	}
	if strings.IndexByte(cmdline, 0) >= 0 {
		return 0, "", fmt.Errorf("command line contains a NUL byte")
	}
	return pid, cmdline, nil
}
