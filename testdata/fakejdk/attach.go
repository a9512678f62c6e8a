package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// attachListener is HotSpot's Linux attach listener (openjdk/crac
// src/hotspot/os/linux/attachListener_linux.cpp, as in JDK 17): a UNIX socket /tmp/.java_pid<pid>, started lazily on SIGQUIT
// when a client has created .attach_pid<pid>, serving one request at a time.
type attachListener struct {
	v    *vm
	mu   sync.Mutex
	ln   *net.UnixListener
	path string
}

// Protocol version 1 and its replies (HotSpot's attachListener.hpp).
const (
	attachVersion  = "1"
	errBadVersion  = 101
	jniOK          = 0
	jniErr         = -1
	maxRequestSize = 1 + 1 + 16 + 1 + 3*(1024+1)
)

func newAttachListener(v *vm) *attachListener {
	pid := os.Getpid()
	return &attachListener{v: v, path: filepath.Join("/tmp", ".java_pid"+strconv.Itoa(pid))}
}

// onQuit reports whether SIGQUIT was consumed by the attach mechanism. As in
// HotSpot's signal thread, a running listener whose socket file vanished is
// cleaned up and may start again; otherwise the signal means a thread dump.
func (a *attachListener) onQuit() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln != nil {
		if _, err := os.Lstat(a.path); err == nil {
			return false
		}
		a.closeLocked()
	}
	if !a.triggered() {
		return false
	}
	if err := a.startLocked(); err != nil {
		fmt.Fprintf(os.Stderr, "attach listener: %v\n", err)
	}
	return true
}

// triggered looks for .attach_pid<pid> in the cwd, then in /tmp, owned by
// this process's euid or by root (HotSpot's is_init_trigger).
func (a *attachListener) triggered() bool {
	name := ".attach_pid" + strconv.Itoa(os.Getpid())
	for _, p := range []string{name, filepath.Join("/tmp", name)} {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && (st.Uid == 0 || int(st.Uid) == os.Geteuid()) {
			return true
		}
	}
	return false
}

// startLocked binds a temporary name, restricts it to the owner and renames
// it into place, so that a client never connects to a half-made socket.
func (a *attachListener) startLocked() error {
	tmp := a.path + ".tmp"
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on %s: %w", tmp, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, a.path); err != nil {
		ln.Close()
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	a.ln = ln
	go a.loop(ln)
	return nil
}

// abort closes the listener and removes its socket, as CRaC's
// AttachListener::abort() does before a checkpoint.
func (a *attachListener) abort() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeLocked()
}

func (a *attachListener) closeLocked() {
	if a.ln != nil {
		a.ln.Close()
		os.Remove(a.path)
		a.ln = nil
	}
}

func (a *attachListener) loop(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		if !peerAllowed(c) {
			c.Close()
			continue
		}
		a.handle(c)
	}
}

// peerAllowed is HotSpot's SO_PEERCRED check: root, or the same euid and
// egid as the VM.
func peerAllowed(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return false
	}
	return cred.Uid == 0 || (int(cred.Uid) == os.Geteuid() && int(cred.Gid) == os.Getegid())
}

func (a *attachListener) handle(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := readRequest(c)
	if err != nil {
		if errors.Is(err, errVersion) {
			fmt.Fprintf(c, "%d\n", errBadVersion)
		}
		return
	}
	status, body, after := a.execute(req)
	fmt.Fprintf(c, "%d\n%s", status, body)
	if after != nil {
		c.Close()
		after()
	}
}

type request struct {
	name string
	args [3]string
}

var errVersion = errors.New("attach protocol version mismatch")

// readRequest reads "<ver>\0<cmd>\0<arg0>\0<arg1>\0<arg2>\0".
func readRequest(r io.Reader) (request, error) {
	var buf []byte
	chunk := make([]byte, 256)
	for bytes.Count(buf, []byte{0}) < 5 {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > maxRequestSize {
			return request{}, errors.New("attach request too long")
		}
		if err != nil && bytes.Count(buf, []byte{0}) < 5 {
			return request{}, fmt.Errorf("read attach request: %w", err)
		}
	}
	parts := strings.Split(string(buf), "\x00")
	if parts[0] != attachVersion {
		return request{}, errVersion
	}
	return request{name: parts[1], args: [3]string{parts[2], parts[3], parts[4]}}, nil
}

// execute runs one operation. after, when set, runs once the reply is sent
// and the connection closed: a checkpoint answers before it dumps.
func (a *attachListener) execute(req request) (status int, body string, after func()) {
	switch req.name {
	case "jcmd":
		return a.v.jcmd(req.args[0])
	case "threaddump":
		var b strings.Builder
		printThreadDump(&b)
		return jniOK, b.String(), nil
	case "properties":
		return jniOK, fmt.Sprintf("java.version=%s\njava.vm.name=OpenJDK 64-Bit Server VM\n", javaVersion), nil
	}
	return jniErr, fmt.Sprintf("Operation %s not recognized!", req.name), nil
}

// jcmd runs a diagnostic command line.
func (v *vm) jcmd(line string) (int, string, func()) {
	fields := strings.Fields(line)
	name := ""
	if len(fields) > 0 {
		name = fields[0]
	}
	switch {
	case name == "help":
		return jniOK, v.help(), nil
	case name == "VM.version":
		return jniOK, vmVersion(v.flavour), nil
	case name == "GC.run":
		runtime.GC()
		return jniOK, "", nil
	case name == "System.trim_native_heap":
		debug.FreeOSMemory()
		return jniOK, "Trim native heap: RSS+Swap: 12M->11M (-1M)\n", nil
	case name == "JDK.checkpoint" && v.flavour == crac:
		return v.jcmdCheckpoint()
	}
	// DCmdFactory::create_local_DCmd throws this, and the jcmd attach
	// operation prints the exception and answers JNI_ERR.
	return jniErr, "java.lang.IllegalArgumentException: Unknown diagnostic command\n", nil
}

func (v *vm) help() string {
	cmds := []string{"GC.run", "System.trim_native_heap", "VM.version", "help"}
	if v.flavour == crac {
		cmds = append([]string{"JDK.checkpoint"}, cmds...)
	}
	return "The following commands are available:\n" + strings.Join(cmds, "\n") +
		"\n\nFor more information about a specific command use 'help <command>'.\n"
}

func printThreadDump(w io.Writer) {
	fmt.Fprintf(w, "%s\nFull thread dump OpenJDK 64-Bit Server VM (%s+11 mixed mode, sharing):\n\n", time.Now().Format("2006-01-02 15:04:05"), javaVersion)
	fmt.Fprintf(w, "\"main\" #1 prio=5 os_prio=0 cpu=12.00ms elapsed=1.00s tid=0x1 nid=%d waiting on condition\n", syscall.Gettid())
	fmt.Fprintln(w, "   java.lang.Thread.State: TIMED_WAITING (sleeping)")
	fmt.Fprintln(w, "\tat fake.App.main(App.java:1)")
	fmt.Fprintln(w, "\nJNI global refs: 0, weak refs: 0")
	fmt.Fprintln(w)
}
