package openj9attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Main implements `stasis jcmd PID COMMAND [ARGS...]` for an OpenJ9 JVM,
// like OpenJ9's own jcmd: the command and its arguments become one
// diagnostic command (words joined by commas); the JVM's string result goes
// to stdout and exit 0; an error reply goes to stderr and exit 1; bad
// arguments exit 2.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || strings.TrimSpace(strings.Join(args[1:], "")) == "" {
		fmt.Fprintln(stderr, "stasis jcmd: usage: stasis jcmd PID COMMAND [ARGS...] (COMMAND help lists the JVM's commands)")
		return 2
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "stasis jcmd: PID %q is not a process id\n", args[0])
		return 2
	}
	out, err := JCmd(context.Background(), pid, strings.Join(args[1:], " "), Options{})
	var je *JVMError
	switch {
	case errors.As(err, &je):
		fmt.Fprintln(stderr, je.Text)
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
