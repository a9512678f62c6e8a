package openj9attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"stasis/attach"
)

// Main implements `stasis jcmd PID COMMAND [ARGS...]` for an OpenJ9 JVM.
// As in OpenJ9's own jcmd, the command and its arguments become one
// diagnostic command (the arguments joined by commas as they are, blanks
// inside one kept) and the JVM's string result
// goes to stdout with exit 0. An error reply goes to stderr with exit 1 and
// bad arguments exit 2, as `stasis jcmd` does for HotSpot; OpenJ9's jcmd
// instead prints "Error: …" on stdout and exits 0 (eclipse-openj9/openj9
// jcl/src/jdk.jcmd/share/classes/openj9/tools/attach/diagnostics/tools/
// Jcmd.java, Util.runCommandAndPrintResult).
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
	out, err := JCmdWords(context.Background(), pid, args[1:], Options{})
	var je *JVMError
	var jvm error
	if errors.As(err, &je) {
		jvm = je // printed as its Text
	}
	return attach.Answer(stdout, stderr, out, err, jvm)
}
