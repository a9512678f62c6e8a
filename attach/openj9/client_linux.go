package openj9attach

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"stasis/attach"
	"stasis/internal/linux"
)

// Names in the common directory (CommonDirectory.java, TargetDirectory.java,
// Advertisement.java, Reply.java).
const (
	commonDirName = ".com_ibm_tools_attach"
	attachLock    = "_attachlock"
	notifier      = "_notifier"
	advertFile    = "attachInfo"
	replyFile     = "replyInfo"
	trashPrefix   = ".trash_"
	// connectedLimit bounds the first message, "ATTACH_CONNECTED KEY "
	// (OpenJ9VirtualMachine.ATTACH_CONNECTED_MESSAGE_LENGTH_LIMIT).
	connectedLimit = 4000
	// replyLimit bounds a command's answer: a thread dump of a big JVM is
	// large, but not unbounded.
	replyLimit = 64 << 20
)

// target is the JVM as /proc shows it.
type target struct {
	pid, nspid int
	uid        int
	root       string // /proc/PID/root: the JVM's file system
	common     string // the common directory, through root
	dir        string // the JVM's own directory in it
	advert     map[string]string
}

// IsOpenJ9 reports whether pid advertises itself in OpenJ9's common
// directory, the way OpenJ9's attach provider lists JVMs.
func IsOpenJ9(pid int) bool {
	t, err := inspect(pid)
	if err != nil {
		return false
	}
	return t.find() == nil
}

func execute(ctx context.Context, pid int, request string, opt Options) (map[string]string, error) {
	t, err := inspect(pid)
	if err != nil {
		return nil, err
	}
	if err := t.find(); err != nil {
		return nil, err
	}
	log := opt.Log.With("pid", pid, "nspid", t.nspid, "dir", t.dir)
	conn, err := t.attach(ctx, log)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReader(conn)
	if err := send(conn, request); err != nil {
		return nil, fmt.Errorf("send %q to pid %d: %w", request, pid, err)
	}
	reply, err := receive(r, replyLimit)
	if err != nil {
		return nil, t.ioError(ctx, opt, fmt.Sprintf("read the reply of pid %d to %q", pid, request), err)
	}
	// Detach as OpenJ9VirtualMachine.detach does; the answer is
	// ATTACH_DETACHED, and a JVM that closes first is no error.
	if send(conn, "ATTACH_DETACH") == nil {
		receive(r, connectedLimit)
	}
	if strings.HasPrefix(reply, "ATTACH_ERR") {
		return nil, &JVMError{Text: strings.TrimSpace(reply)}
	}
	return parseProperties(reply), nil
}

func (t *target) ioError(ctx context.Context, opt Options, what string, err error) error {
	if ctx.Err() != nil {
		return attach.NewError(ErrTimeout, "%s: no answer within %s", what, opt.Timeout)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// inspect reads /proc/PID/status and the JVM's command line: its PID in its
// own namespace (the name of its directory), its user, and where its common
// directory is.
func inspect(pid int) (*target, error) {
	if pid <= 0 {
		return nil, attach.NewError(ErrNoProcess, "%d is not a process id", pid)
	}
	proc := "/proc/" + strconv.Itoa(pid)
	data, err := os.ReadFile(proc + "/status")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return nil, attach.NewError(ErrNoProcess, "no process with pid %d", pid)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/status: %w", proc, err)
	}
	st, err := linux.ParseStatus(data)
	if err != nil {
		return nil, fmt.Errorf("read %s/status: %w", proc, err)
	}
	if st.Gone() {
		return nil, attach.NewError(ErrNoProcess, "pid %d has exited", pid)
	}
	// NSpid is 0 before Linux 4.1: then the pid is the same everywhere.
	t := &target{pid: pid, nspid: cmp.Or(st.NSpid, pid), uid: st.Uid[1], root: proc + "/root"}
	if me := unix.Geteuid(); me != 0 && me != t.uid {
		return nil, attach.NewError(ErrPermission, "pid %d runs as uid %d and stasis as uid %d: only root can attach to another user's JVM", pid, t.uid, me)
	}
	cmdline, _ := os.ReadFile(proc + "/cmdline")
	common := filepath.Join(t.tmpDir(), commonDirName)
	for _, a := range strings.Split(string(cmdline), "\x00") {
		if v, ok := strings.CutPrefix(a, "-Dcom.ibm.tools.attach.directory="); ok && v != "" {
			common = v
		}
		// AttachHandler reads com.ibm.tools.attach.enable; "no" turns the
		// attach API off, and the JVM then never answers.
		if v, ok := strings.CutPrefix(a, "-Dcom.ibm.tools.attach.enable="); ok && strings.EqualFold(v, "no") {
			return nil, attach.NewError(ErrAttachDisabled, "attach is disabled in pid %d (-Dcom.ibm.tools.attach.enable=no)", pid)
		}
	}
	if !filepath.IsAbs(common) {
		cwd, _ := os.Readlink(proc + "/cwd")
		common = filepath.Join(cwd, common)
	}
	t.common = filepath.Join(t.root, common)
	return t, nil
}

// tmpDir is the JVM's system temporary directory, where its common
// directory is unless a property moves it: $TMPDIR from the JVM's
// environment when that exists, else /tmp (eclipse-openj9/openj9
// IPC.getTmpDir, runtime/util/unix/filehelp.c getTmpDir).
func (t *target) tmpDir() string {
	env, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(t.pid), "environ"))
	for _, kv := range strings.Split(string(env), "\x00") {
		if d, ok := strings.CutPrefix(kv, "TMPDIR="); ok && d != "" {
			if _, err := os.Stat(filepath.Join(t.root, d)); err == nil {
				return d
			}
		}
	}
	return "/tmp"
}

// find locates the JVM's directory: normally named after its PID, else any
// directory whose advertisement names that PID (TargetDirectory uses
// another VM id when the PID's directory is taken).
func (t *target) find() error {
	try := func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, advertFile))
		if err != nil {
			return false
		}
		adv := parseProperties(string(b))
		if adv["processId"] != strconv.Itoa(t.nspid) {
			return false
		}
		t.dir, t.advert = dir, adv
		return true
	}
	if try(filepath.Join(t.common, strconv.Itoa(t.nspid))) {
		return nil
	}
	entries, _ := os.ReadDir(t.common)
	for _, e := range entries {
		if e.IsDir() && try(filepath.Join(t.common, e.Name())) {
			return nil
		}
	}
	return attach.NewError(ErrNotOpenJ9, "pid %d does not advertise OpenJ9 attach: no %s/*/%s names process %d", t.pid, strings.TrimPrefix(t.common, t.root), advertFile, t.nspid)
}

// attach runs OpenJ9VirtualMachine.attachTarget: tries with growing
// timeouts (500 ms, then 1.5 times longer) until the JVM connects back or
// ctx ends.
func (t *target) attach(ctx context.Context, log interface {
	Debug(string, ...any)
}) (net.Conn, error) {
	wait := 500 * time.Millisecond
	for {
		conn, err := t.tryAttach(ctx, wait)
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, errNoConnect) {
			return nil, err
		}
		log.Debug("OpenJ9 attach: no connection yet", "waited", wait)
		if ctx.Err() != nil {
			return nil, attach.NewError(ErrTimeout, "pid %d did not connect back to the attacher (OpenJ9 attach)", t.pid)
		}
		wait = wait * 3 / 2
	}
}

var errNoConnect = errors.New("no connection")

// tryAttach is one round of OpenJ9VirtualMachine.tryAttachTarget.
func (t *target) tryAttach(ctx context.Context, wait time.Duration) (conn net.Conn, err error) {
	lock, err := lockFile(filepath.Join(t.common, attachLock), 0o666, true)
	if err != nil {
		return nil, fmt.Errorf("lock OpenJ9's attach lock: %w", err)
	}
	defer unlockFile(lock)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("listen for the JVM: %w", err)
	}
	defer ln.Close()
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	reply := filepath.Join(t.dir, replyFile)
	if err := t.writeReply(reply, key, port); err != nil {
		return nil, err
	}
	defer os.Remove(reply)
	locks := t.lockSyncFiles()
	n := t.countTargets()
	if err := semPost(filepath.Join(t.common, notifier), n); err != nil {
		unlockAll(locks)
		return nil, fmt.Errorf("notify the JVMs through %s: %w", notifier, err)
	}
	defer func() {
		// Unlock first, then take back what no JVM consumed
		// (OpenJ9VirtualMachine.tryAttachTarget's finally block).
		unlockAll(locks)
		semCancel(filepath.Join(t.common, notifier), n)
	}()
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ln.SetDeadline(deadline)
	c, err := ln.Accept()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, errNoConnect
		}
		return nil, fmt.Errorf("accept the JVM's connection: %w", err)
	}
	c.SetDeadline(deadline.Add(5 * time.Second))
	msg, err := receive(bufio.NewReader(c), connectedLimit)
	if err != nil || !strings.Contains(msg, " "+key+" ") {
		c.Close()
		return nil, fmt.Errorf("pid %d answered the attach with %q, not its key (%v)", t.pid, msg, err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// writeReply is Reply.writeReply: a new file, mode 0600, "KEY\nPORT\n",
// given to the JVM's user when we are root and it is not.
func (t *target) writeReply(path, key string, port int) error {
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the attach reply: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s\n%d\n", key, port)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && unix.Geteuid() == 0 && t.uid > 0 {
		err = os.Chown(path, t.uid, -1)
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write the attach reply %s: %w", path, err)
	}
	return nil
}

// lockSyncFiles locks every advertised JVM's attachNotificationSync file,
// so that each JVM consumes at most one post (OpenJ9VirtualMachine.
// lockAllAttachNotificationSyncFiles). A file that cannot be locked is
// skipped, as OpenJ9 does.
func (t *target) lockSyncFiles() []*os.File {
	var locks []*os.File
	entries, _ := os.ReadDir(t.common)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(t.common, e.Name(), advertFile))
		if err != nil {
			continue
		}
		sync := parseProperties(string(b))["attachNotificationSync"]
		if sync == "" {
			continue
		}
		if f, err := lockFile(filepath.Join(t.root, sync), 0o666, false); err == nil {
			locks = append(locks, f)
		}
	}
	return locks
}

// countTargets is CommonDirectory.countTargetDirectories: every entry but
// the control files and trash.
func (t *target) countTargets() int {
	entries, _ := os.ReadDir(t.common)
	n := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, trashPrefix) || strings.EqualFold(name, attachLock) ||
			strings.EqualFold(name, "_controller") || strings.EqualFold(name, notifier) {
			continue
		}
		n++
	}
	return n
}

// lockFile is FileLock.lockFile: open or create the file, set its mode
// whatever the umask (runtime/jcl/common/attach.c lockFileImpl chmods it:
// a _attachlock that only its creator can write stops every other user's
// attacher), and flock it.
func lockFile(path string, perm os.FileMode, block bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	_ = os.Chmod(path, perm) // as OpenJ9: best effort, another user's file stays as it is
	how := unix.LOCK_EX
	if !block {
		how |= unix.LOCK_NB
	}
	if err := linux.Retry("flock", func() error { return unix.Flock(int(f.Fd()), how) }); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func unlockFile(f *os.File) {
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}

func unlockAll(fs []*os.File) {
	for _, f := range fs {
		unlockFile(f)
	}
}

// randomKey is IPC.getRandomString: 64 random bits in hex.
func randomKey() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make an attach key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// send writes one message and its terminating NUL (AttachmentConnection.
// streamSend).
func send(w io.Writer, msg string) error {
	_, err := w.Write(append([]byte(msg), 0))
	return err
}

// receive reads one NUL-terminated message (AttachmentConnection.
// streamReceiveBytes), at most limit bytes.
func receive(r *bufio.Reader, limit int) (string, error) {
	var buf bytes.Buffer
	for buf.Len() <= limit {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf.String(), errors.New("the JVM closed the connection before the end of its message")
			}
			return buf.String(), err
		}
		if b == 0 {
			return buf.String(), nil
		}
		buf.WriteByte(b)
	}
	return "", fmt.Errorf("message exceeds %d bytes", limit)
}
