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
// the JVM's commands. It prints the JVM's answer to stdout and returns 0,
// 1 when the JVM reports an error (its text goes to stderr) or cannot be
// attached, and 2 for bad arguments.
func Main(args []string, stdout, stderr io.Writer) int {
	pid, cmdline, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "stasis jcmd: %v\n", err)
		return 2
	}
	out, err := JCmd(context.Background(), pid, cmdline, Options{})
	var jvm error
	if IsJVMError(err) {
		jvm = err
	}
	return Answer(stdout, stderr, out, err, jvm)
}

// Answer ends `stasis jcmd` for either attach client: the reply out on
// stdout, ending in a newline, and 0; when err is not nil, 1, with jvm
// (the JVM's own error, when err is one) alone on stderr, else err after
// "stasis jcmd: ".
func Answer(stdout, stderr io.Writer, out string, err, jvm error) int {
	switch {
	case jvm != nil:
		fmt.Fprintln(stderr, jvm)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "stasis jcmd: %v\n", err)
		return 1
	}
	io.WriteString(stdout, out)
	if out != "" && !strings.HasSuffix(out, "\n") {
		io.WriteString(stdout, "\n")
	}
	return 0
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
