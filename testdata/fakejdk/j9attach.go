package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// j9Attach is the target side of OpenJ9's attach API (eclipse-openj9/openj9
// jcl/src/java.base/share/classes/openj9/internal/tools/attach/target/):
// the advertisement in the common directory, the wait loop on the
// notification semaphore, and one Attachment per attacher that connects back.
type j9Attach struct {
	v        *vm
	common   string // CommonDirectory: <tmp>/.com_ibm_tools_attach
	dir      string // TargetDirectory: common/<vmId>, the vmId being the PID
	syncFile string // attachNotificationSync
	semid    int
	quit     chan struct{}
	loopDone chan struct{}
	conns    sync.WaitGroup
}

// startJ9Attach is AttachHandler's initialisation. The attach API is on by
// default on Linux; -Dcom.ibm.tools.attach.enable=no turns it off, and
// -Dcom.ibm.tools.attach.directory moves the common directory
// (CommonDirectory.initialize). A failure disables attach silently, as
// AttachHandler does.
func startJ9Attach(v *vm) *j9Attach {
	if strings.EqualFold(v.prop("com.ibm.tools.attach.enable", "yes"), "no") {
		return nil
	}
	a := &j9Attach{v: v, common: v.prop("com.ibm.tools.attach.directory", filepath.Join("/tmp", ".com_ibm_tools_attach")),
		quit: make(chan struct{}), loopDone: make(chan struct{})}
	a.dir = filepath.Join(a.common, strconv.Itoa(os.Getpid()))
	a.syncFile = filepath.Join(a.dir, "attachNotificationSync")
	if err := a.advertise(); err != nil {
		os.RemoveAll(a.dir)
		return nil
	}
	go a.waitLoop()
	return a
}

// advertise prepares the common directory (mode 01777, the _notifier
// control file 0666, CommonDirectory.prepareCommonDirectory and
// createNotificationFile), opens the semaphore (ftok(_notifier, 0xa1),
// runtime/jcl/common/attach.c) and writes this VM's directory with its sync
// file and attachInfo (Advertisement.createAdvertContent).
func (a *j9Attach) advertise() error {
	if err := os.MkdirAll(a.common, 0o777); err != nil {
		return err
	}
	os.Chmod(a.common, 0o777|os.ModeSticky)
	notifier := filepath.Join(a.common, "_notifier")
	if f, err := os.OpenFile(notifier, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666); err == nil {
		f.Close()
		os.Chmod(notifier, 0o666)
	}
	id, err := semCreate(notifier)
	if err != nil {
		return err
	}
	a.semid = id
	os.RemoveAll(a.dir)
	if err := os.Mkdir(a.dir, 0o711); err != nil {
		return err
	}
	if err := os.WriteFile(a.syncFile, nil, 0o666); err != nil {
		return err
	}
	user := os.Getenv("USER")
	var b strings.Builder
	fmt.Fprintf(&b, "version=0.1\nuserId=%s\nuserUid=%d\nprocessId=%d\n", escapeProp(user, false), os.Getuid(), os.Getpid())
	fmt.Fprintf(&b, "vmId=%d\ndisplayName=%s\nnotifier=_notifier\nglobalSemaphore=true\n", os.Getpid(), escapeProp(strings.Join(a.v.opts.mainArgs, " "), false))
	fmt.Fprintf(&b, "replyFile=%s\nattachNotificationSync=%s\n", escapeProp(filepath.Join(a.dir, "replyInfo"), false), escapeProp(a.syncFile, false))
	return os.WriteFile(filepath.Join(a.dir, "attachInfo"), []byte(b.String()), 0o644)
}

// stop is AttachHandler.terminate: the wait loop ends, attachments still
// answering are let finish (up to 5 s), and the directory goes.
func (a *j9Attach) stop() {
	if a == nil {
		return
	}
	select {
	case <-a.quit:
		return
	default:
	}
	close(a.quit)
	<-a.loopDone
	done := make(chan struct{})
	go func() { a.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	os.RemoveAll(a.dir)
}

// waitLoop is WaitLoop.run: wait for a post on the semaphore, look for a
// reply file, connect to the attacher if there is one, then wait on the own
// sync file (the attacher holds it locked, so that this VM takes only one
// post) and sleep 300 ms. The double waits with a timeout only to notice
// stop().
func (a *j9Attach) waitLoop() {
	defer close(a.loopDone)
	for {
		select {
		case <-a.quit:
			return
		default:
		}
		if err := semWait(a.semid, 100*time.Millisecond); err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			// The semaphore went away (EIDRM/EINVAL): reopen it, as
			// WaitLoop's retry does.
			if id, err := semCreate(filepath.Join(a.common, "_notifier")); err == nil {
				a.semid = id
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		a.checkReply()
		if f, err := os.OpenFile(a.syncFile, os.O_RDWR|os.O_CREATE, 0o666); err == nil {
			unix.Flock(int(f.Fd()), unix.LOCK_EX)
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
			f.Close()
		}
		select {
		case <-a.quit:
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// checkReply is AttachHandler.connectToAttacher: Reply.readReply checks that
// replyInfo is the VM user's and not readable or writable by others
// (IPC.checkOwnerAccessOnly), reads the key and the port, and an Attachment
// connects to the loopback address.
func (a *j9Attach) checkReply() {
	path := filepath.Join(a.dir, "replyInfo")
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return
	}
	if me := uint32(os.Getuid()); (me != 0 && st.Uid != me) || st.Mode&0o066 != 0 {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil {
		return
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		return
	}
	a.conns.Add(1)
	go a.attachment(conn, strings.TrimSpace(lines[0]))
}

// attachment is Attachment.run: "ATTACH_CONNECTED KEY " first, then one
// command after another until ATTACH_DETACH or a closed socket, then
// "ATTACH_DETACHED". Every message ends with a NUL (AttachmentConnection).
func (a *j9Attach) attachment(conn net.Conn, key string) {
	defer a.conns.Done()
	defer conn.Close()
	send := func(s string) error {
		_, err := conn.Write(append([]byte(s), 0))
		return err
	}
	if send("ATTACH_CONNECTED "+key+" ") != nil {
		return
	}
	r := bufio.NewReader(conn)
	for {
		cmd, err := r.ReadString(0)
		if err != nil {
			return
		}
		cmd = strings.TrimSuffix(cmd, "\x00")
		switch {
		case strings.HasPrefix(cmd, "ATTACH_DETACH"):
			send("ATTACH_DETACHED")
			return
		case strings.HasPrefix(cmd, "ATTACH_DIAGNOSTICS:"):
			props, after := a.v.diagnostic(strings.TrimPrefix(cmd, "ATTACH_DIAGNOSTICS:"))
			err := send(storeProps(props))
			if after != nil {
				go after()
			}
			if err != nil {
				return
			}
		case strings.HasPrefix(cmd, "ATTACH_GETSYSTEMPROPERTIES"):
			a.v.mu.Lock()
			props := map[string]string{"java.vm.name": "Eclipse OpenJ9 VM", "java.version": javaVersion}
			for k, v := range a.v.opts.props {
				props[k] = v
			}
			a.v.mu.Unlock()
			if send(storeProps(props)) != nil {
				return
			}
		default:
			if send("ATTACH_ERR command invalid: "+cmd) != nil {
				return
			}
		}
	}
}

// Diagnostic reply keys (DiagnosticProperties.java, IPC.java).
const (
	diagError     = "openj9_diagnostics.error"
	diagErrorType = "openj9_diagnostics.errortype"
	diagErrorMsg  = "openj9_diagnostics.errormsg"
	diagResult    = "openj9_diagnostics.string_result"
)

func stringResult(text string) map[string]string {
	return map[string]string{diagError: "false", diagErrorType: "Error in command", diagResult: text}
}

func errorResult(msg string) map[string]string {
	return map[string]string{diagError: "true", diagErrorType: "Error in command", diagErrorMsg: msg}
}

// diagnostic is DiagnosticUtils.executeDiagnosticCommand: the command's
// words are comma-separated, the first one picks the command, unknown ones
// get "Command X not recognized" with the error flag. after, when not nil,
// runs once the answer is sent (the checkpoint commands start a thread that
// checkpoints after answering "JVM checkpoint requested").
func (v *vm) diagnostic(command string) (map[string]string, func()) {
	parts := strings.Split(command, ",")
	withCheckpoint := os.Getenv("FAKE_OPENJ9_NO_CHECKPOINT_COMMAND") != "1"
	table := map[string]bool{"help": true, "GC.run": true, "Thread.print": true, "Dump.java": true}
	if withCheckpoint {
		table["JDK.checkpoint"] = true
		table["CRIU.checkpoint"] = true
	}
	if !table[parts[0]] {
		return errorResult("Command " + command + " not recognized"), nil
	}
	var res map[string]string
	var after func()
	switch parts[0] {
	case "help":
		var names []string
		for n := range table {
			names = append(names, n)
		}
		sort.Strings(names)
		res = stringResult(strings.Join(names, "\n") + "\n")
	case "GC.run":
		res = stringResult("Command succeeded")
	case "Thread.print", "Dump.java":
		var b bytes.Buffer
		printThreadDump(&b)
		res = stringResult(b.String())
	case "JDK.checkpoint":
		// doCRaCCheckpointJVM: only in CRaC mode, no parameters.
		switch {
		case v.opts.checkpointTo == "":
			res = stringResult("CRaC support is not enabled, JVM can't perform a checkpoint")
		case len(parts) > 1:
			res = stringResult("JDK.checkpoint doesn't take any parameters")
		default:
			res = stringResult("JVM checkpoint requested")
			after = func() { v.threadCheckpoint(v.cracDump) }
		}
	case "CRIU.checkpoint":
		// doCRIUCheckpointJVM: only with -XX:+EnableCRIUSupport; each
		// key=value becomes the system property openj9.internal.criu.key.
		if !v.opts.enableCRIU {
			res = stringResult("CRIU support is not enabled, JVM can't perform a checkpoint")
			break
		}
		for _, kv := range parts[1:] {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || strings.Contains(val, "=") {
				return errorResult("Expected Jcmd format: CRIU.checkpoint,imageDir=/path/to/cpData,logLevel=4 that creates system properties <openj9.internal.criu.imageDir> with the value </path/to/cpData> and <openj9.internal.criu.logLevel> with the value <4>, but got: " + command), nil
			}
			v.mu.Lock()
			v.opts.props["openj9.internal.criu."+k] = val
			v.mu.Unlock()
		}
		res = stringResult("JVM checkpoint requested")
		after = func() { v.threadCheckpoint(v.jcmdCRIUDump) }
	}
	res["command_string"] = command
	return res, after
}

// threadCheckpoint is the checkpoint thread of a jcmd request: its failure
// is a stack trace on stderr (t.printStackTrace()), and the JVM runs on.
func (v *vm) threadCheckpoint(params func() (j9Dump, error)) {
	d, err := params()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return
	}
	v.j9Checkpoint(d)
}

// storeProps is Properties.store: a comment line with the date, then
// key=value lines with Properties' escapes.
func storeProps(props map[string]string) string {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("#\n#" + time.Now().Format("Mon Jan 02 15:04:05 MST 2006") + "\n")
	for _, k := range keys {
		b.WriteString(escapeProp(k, true) + "=" + escapeProp(props[k], false) + "\n")
	}
	return b.String()
}

// escapeProp is Properties.saveConvert: backslash, tab, newline, return and
// form feed escaped, "=:#!" escaped, blanks escaped in keys (and leading
// in values), other characters outside printable ASCII as \uXXXX.
func escapeProp(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case strings.ContainsRune("=:#!", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16(r) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16(r rune) []rune {
	if r < 0x10000 {
		return []rune{r}
	}
	r -= 0x10000
	return []rune{0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff}
}
