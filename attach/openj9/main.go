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
// goes to stdout. An error reply is an *attach.Refusal and bad arguments an
// *attach.UsageError, as for HotSpot (attach.Main), so that `stasis jcmd`
// prints the reply on stderr and exits 1, or 2; OpenJ9's jcmd instead
// prints "Error: …" on stdout and exits 0 (eclipse-openj9/openj9
// jcl/src/jdk.jcmd/share/classes/openj9/tools/attach/diagnostics/tools/
// Jcmd.java, Util.runCommandAndPrintResult).
func Main(args []string, stdout io.Writer) error {
	if len(args) < 2 || strings.TrimSpace(strings.Join(args[1:], "")) == "" {
		return &attach.UsageError{Err: errors.New("usage: stasis jcmd PID COMMAND [ARGS...] (COMMAND help lists the JVM's commands)")}
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		return &attach.UsageError{Err: fmt.Errorf("PID %q is not a process id", args[0])}
	}
	out, err := JCmdWords(context.Background(), pid, args[1:], Options{})
	var je *JVMError
	var jvm error
	if errors.As(err, &je) {
		jvm = je // printed as its Text
	}
	return attach.Answer(stdout, out, err, jvm)
}
