// Package attach owns the client side of HotSpot's dynamic-attach protocol: the
// handshake that wakes a JVM's attach listener (.attach_pid file and SIGQUIT),
// the UNIX socket .java_pid<pid> under the JVM's /tmp, and the request/reply
// format that jcmd speaks. It lets stasis run diagnostic commands such as
// JDK.checkpoint in images that ship a JRE without jcmd.
//
// The package reaches the target only through /proc, so it works across mount
// and PID namespaces. It must not import other stasis packages: callers give
// it a pid, a command line and a logger.
package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Options tunes one attach operation, of this client or OpenJ9's
// (attach/openj9 shares it).
type Options struct {
	// Timeout bounds the whole operation: handshake, connect, request and
	// reply. Zero means the client's DefaultTimeout.
	Timeout time.Duration
	// Log receives debug records of the handshake; nil discards them.
	Log *slog.Logger
}

// Begin starts an operation: it fills o's zero values (the client's
// default timeout def, a logger that discards) and bounds ctx by the
// timeout.
func (o Options) Begin(ctx context.Context, def time.Duration) (context.Context, context.CancelFunc, Options) {
	if o.Timeout <= 0 {
		o.Timeout = def
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	return ctx, cancel, o
}

// DefaultTimeout matches the JDK attach client's default
// (sun.tools.attach.attachTimeout, 10000 ms).
const DefaultTimeout = 10 * time.Second

// Sentinel errors, matched with errors.Is. The returned errors carry a one-line
// explanation naming the pid.
var (
	ErrAttachDisabled = errors.New("attach is disabled")
	ErrNotHotSpot     = errors.New("not a HotSpot JVM")
	ErrOpenJ9         = errors.New("OpenJ9 JVM")
	ErrTimeout        = errors.New("JVM did not answer in time")
	ErrNoProcess      = errors.New("no such process") // OpenJ9's client's too
	// ErrPermission reports a JVM owned by a user that stasis cannot
	// become (OpenJ9's client's too).
	ErrPermission = errors.New("permission denied")
)

// statusError is the JVM's own refusal: a non-zero reply status, or an
// exception printed by a diagnostic command. Its text is the JVM's.
type statusError struct {
	status int
	text   string
}

func (e *statusError) Error() string { return e.text }

// IsJVMError reports whether err is the JVM's own answer (a failed command)
// rather than a failure to reach the JVM.
func IsJVMError(err error) bool {
	var se *statusError
	return errors.As(err, &se)
}

// JCmd runs one diagnostic command line ("VM.version", "GC.run",
// "JDK.checkpoint", "System.trim_native_heap") in JVM pid and returns what the
// JVM answered. A non-zero reply status or an exception in the reply is an
// error whose text is the JVM's own.
func JCmd(ctx context.Context, pid int, cmdline string, opt Options) (string, error) {
	status, body, err := Execute(ctx, pid, "jcmd", []string{cmdline}, opt)
	if err != nil {
		return "", err
	}
	if err := replyError(status, body); err != nil {
		return body, err
	}
	return body, nil
}

// Execute is the lower level: one attach command ("jcmd", "properties",
// "threaddump", ...) with up to 3 args; returns the reply status and body.
// A non-zero status is not an error here: err reports only failures to
// reach the JVM or to read its reply.
func Execute(ctx context.Context, pid int, cmd string, args []string, opt Options) (status int, body string, err error) {
	req, err := encodeRequest(cmd, args)
	if err != nil {
		return 0, "", fmt.Errorf("attach to pid %d: %w", pid, err)
	}
	ctx, cancel, opt := opt.Begin(ctx, DefaultTimeout)
	defer cancel()
	reply, err := execute(ctx, pid, req, opt)
	if err != nil {
		return 0, "", err
	}
	status, body, err = parseReply(reply)
	if err != nil {
		return 0, "", fmt.Errorf("read reply of pid %d to %q: %w", pid, cmd, err)
	}
	return status, body, nil
}

// exceptionLine matches a Java exception at the start of a reply, as a
// diagnostic command prints it: "java.lang.IllegalArgumentException: ...".
// exceptionLine is compiled on first use, not at start-up: every
// container start pays for package initialisation.
var exceptionLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+(Exception|Error)(:|$)`)
})

// replyError turns a jcmd reply into the JVM's own error, or nil. JDK 17
// answers an unknown command with status -1 and the exception text; older
// JDKs answered status 0 with the exception text, so both count.
func replyError(status int, body string) error {
	text := strings.TrimSpace(body)
	first, _, _ := strings.Cut(text, "\n")
	if status == 0 && !exceptionLine().MatchString(first) {
		return nil
	}
	switch {
	case text != "":
	case status == badVersion:
		text = "protocol mismatch with target VM (status 101)"
	default:
		text = fmt.Sprintf("command failed in target VM (status %d)", status)
	}
	return &statusError{status: status, text: text}
}

// attachError is a one-line explanation that still matches its sentinel
// with errors.Is.
type attachError struct {
	kind error
	msg  string
}

func (e *attachError) Error() string { return e.msg }
func (e *attachError) Unwrap() error { return e.kind }

// NewError is a one-line error that matches kind with errors.Is; the
// OpenJ9 client builds its errors with it too.
func NewError(kind error, format string, args ...any) error {
	return &attachError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
