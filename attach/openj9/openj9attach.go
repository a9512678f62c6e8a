// Package openj9attach is the attacher side of Eclipse OpenJ9's own attach
// protocol, which OpenJ9 JVMs (IBM Semeru) speak instead of HotSpot's
// .java_pid<pid> socket. It lets stasis send diagnostic commands such as
// JDK.checkpoint (CRaC mode) and CRIU.checkpoint (-XX:+EnableCRIUSupport)
// to an OpenJ9 JVM without a JDK's jcmd.
//
// The protocol, from eclipse-openj9/openj9 (paths under
// jcl/src/java.base/share/classes/openj9/internal/tools/attach/target/ and
// jcl/src/jdk.attach/share/classes/com/ibm/tools/attach/attacher/):
//
//   - Every JVM advertises itself in the common directory
//     <tmp>/.com_ibm_tools_attach, <tmp> being the JVM's $TMPDIR when that
//     exists, else /tmp (CommonDirectory.java, IPC.getTmpDir,
//     runtime/util/unix/filehelp.c; the com.ibm.tools.attach.directory
//     property moves it), in a directory
//     named after its VM id, normally its PID (TargetDirectory.java), with an
//     attachInfo file in java.util.Properties format (processId, vmId,
//     userUid, attachNotificationSync, ...; Advertisement.java).
//   - The attacher takes the common _attachlock, listens on a TCP port and
//     writes replyInfo ("KEY\nPORT\n", mode 0600) into the target's
//     directory (Reply.java, OpenJ9VirtualMachine.tryAttachTarget).
//   - It locks every JVM's attachNotificationSync file and posts the SysV
//     semaphore of <common>/_notifier (ftok project id 0xa1, runtime/jcl/
//     common/attach.c openSemaphore) once per directory in the common
//     directory (CommonDirectory.countTargetDirectories, notifyVm). Every
//     JVM wakes (WaitLoop.java), looks for its replyInfo, and the target
//     connects to the port on the loopback address and sends
//     "ATTACH_CONNECTED KEY " (Attachment.connectToAttacher).
//   - The attacher then unlocks the sync files, takes back the unused posts
//     (cancelNotify), deletes replyInfo and drops the attach lock.
//   - Messages both ways end with a NUL byte (AttachmentConnection.java).
//     A diagnostic command is "ATTACH_DIAGNOSTICS:" + the command line with
//     its words joined by commas (DiagnosticUtils.makeJcmdCommand); the
//     answer is a java.util.Properties text (IPC.sendProperties) whose
//     openj9_diagnostics.string_result is the output, or whose
//     openj9_diagnostics.error is true (DiagnosticProperties.java).
//     "ATTACH_DETACH" ends the session; the target answers "ATTACH_DETACHED".
//
// The target connects back over TCP and is woken through a SysV semaphore,
// so the attacher must share the JVM's network and IPC namespaces (inside
// the container, as stasis is). Files are reached through /proc/PID/root.
// Like package attach, it must not import other stasis packages but that
// one (a leaf), whose Options and error kinds it shares.
package openj9attach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"stasis/attach"
)

// Options tunes one attach operation: HotSpot's client's, with this
// package's DefaultTimeout.
type Options = attach.Options

// DefaultTimeout bounds an attach. OpenJ9's own attacher retries with
// timeouts growing from 500 ms up to com.ibm.tools.attach.timeout
// (120 s, OpenJ9VirtualMachine.java); a container start cannot wait that
// long for a diagnostic command.
const DefaultTimeout = 30 * time.Second

// Sentinel errors, matched with errors.Is.
var (
	ErrNotOpenJ9      = errors.New("not an OpenJ9 JVM advertising attach")
	ErrAttachDisabled = errors.New("OpenJ9 attach is disabled")
	ErrNoProcess      = attach.ErrNoProcess
	ErrTimeout        = errors.New("the JVM did not connect back in time")
	ErrPermission     = attach.ErrPermission
)

// JVMError is the JVM's own answer to a failed command: the text OpenJ9's
// jcmd prints for it ("Error: TYPE" and the message).
type JVMError struct{ Text string }

func (e *JVMError) Error() string { return e.Text }

// Command joins a jcmd-style command line into OpenJ9's diagnostic command:
// words separated by commas, as DiagnosticUtils.makeJcmdCommand does for
// OpenJ9's jcmd ("CRIU.checkpoint imageDir=/x" becomes
// "CRIU.checkpoint,imageDir=/x").
func Command(cmdline string) string {
	return strings.Join(strings.Fields(cmdline), ",")
}

// JCmd runs one diagnostic command line in the OpenJ9 JVM pid and returns
// what OpenJ9's jcmd would print on success (the string result). An error
// reply is a *JVMError.
func JCmd(ctx context.Context, pid int, cmdline string, opt Options) (string, error) {
	return JCmdWords(ctx, pid, strings.Fields(cmdline), opt)
}

// JCmdWords is JCmd for a command already split into words, as OpenJ9's
// jcmd gets them from its own command line: they are joined with commas
// as they are (DiagnosticUtils.makeJcmdCommand), so a word may hold a
// blank.
func JCmdWords(ctx context.Context, pid int, words []string, opt Options) (string, error) {
	ctx, cancel, opt := opt.Begin(ctx, DefaultTimeout)
	defer cancel()
	props, err := execute(ctx, pid, "ATTACH_DIAGNOSTICS:"+strings.Join(words, ","), opt)
	if err != nil {
		return "", err
	}
	return result(props)
}

// Property keys of a diagnostic reply (DiagnosticProperties.java, IPC.java).
const (
	keyError     = "openj9_diagnostics.error"
	keyErrorType = "openj9_diagnostics.errortype"
	keyErrorMsg  = "openj9_diagnostics.errormsg"
	keyResult    = "openj9_diagnostics.string_result"
)

// result is DiagnosticProperties.printStringResult: the string result, or
// "Error: TYPE" and the message when the error flag is true.
func result(props map[string]string) (string, error) {
	if strings.EqualFold(props[keyError], "true") {
		typ := props[keyErrorType]
		if typ == "" {
			typ = "No error type available"
		}
		text := "Error: " + typ
		if msg, ok := props[keyErrorMsg]; ok {
			text += "\n" + msg
		}
		return "", &JVMError{Text: text}
	}
	out, ok := props[keyResult]
	if !ok {
		return "", fmt.Errorf("the JVM's reply has no %s", keyResult)
	}
	return out, nil
}
