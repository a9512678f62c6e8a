package attach

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of HotSpot's attach listener (AttachOperation in attachListener.hpp):
// a request carries exactly three arguments, and a longer name or argument
// makes the listener drop the connection without a reply.
const (
	protocolVersion = "1"
	maxArgs         = 3
	maxNameLen      = 16
	maxArgLen       = 1024
	badVersion      = 101 // ATTACH_ERROR_BADVERSION
	maxReplyBytes   = 64 << 20
)

// encodeRequest builds "<ver>\0<cmd>\0<arg>\0<arg>\0<arg>\0": the listener
// reads until it has seen exactly 2+3 NUL-terminated strings, so missing
// arguments are sent as empty strings.
func encodeRequest(cmd string, args []string) ([]byte, error) {
	if cmd == "" || len(cmd) > maxNameLen || strings.IndexByte(cmd, 0) >= 0 {
		return nil, fmt.Errorf("attach command %q must be 1 to %d bytes without NUL", cmd, maxNameLen)
	}
	if len(args) > maxArgs {
		return nil, fmt.Errorf("attach command %q takes at most %d arguments, got %d", cmd, maxArgs, len(args))
	}
	var b bytes.Buffer
	b.WriteString(protocolVersion)
	b.WriteByte(0)
	b.WriteString(cmd)
	b.WriteByte(0)
	for i := 0; i < maxArgs; i++ {
		if i < len(args) {
			a := args[i]
			if len(a) > maxArgLen || strings.IndexByte(a, 0) >= 0 {
				return nil, fmt.Errorf("argument %d of %q must be at most %d bytes without NUL", i+1, cmd, maxArgLen)
			}
			b.WriteString(a)
		}
		b.WriteByte(0)
	}
	return b.Bytes(), nil
}

// errEmptyReply means the JVM closed the connection without a status line:
// it rejected our credentials or the request, or it died.
var errEmptyReply = errors.New("connection closed without a reply (wrong credentials, a rejected request, or the JVM exited)")

// parseReply splits a reply into its decimal status line and the output that
// follows. HotSpot writes "%d\n" then the command's output, then closes.
func parseReply(reply []byte) (int, string, error) {
	if len(reply) == 0 {
		return 0, "", errEmptyReply
	}
	line, body, found := bytes.Cut(reply, []byte{'\n'})
	if !found && len(line) > 12 {
		return 0, "", fmt.Errorf("status line %q has no newline", truncate(line))
	}
	status, err := strconv.ParseInt(string(line), 10, 32)
	if err != nil {
		return 0, "", fmt.Errorf("status line %q is not a decimal number", truncate(line))
	}
	return int(status), string(body), nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
