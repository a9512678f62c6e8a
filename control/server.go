package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// maxConns bounds the connections being served at once; more are told they are busy. Reading a
// request happens concurrently (so a silent client delays nobody), handling does not. It is
// large: a connection costs a goroutine and a descriptor, and one that is slow to send its
// request holds its slot for up to ioTimeout, so a few dozen idle clients (a healthcheck
// storm, a stuck script) must not shut the healthcheck out.
const maxConns = 256

// maxBusy bounds the connections being told they are busy at once; past it, a connection is
// closed unanswered.
const maxBusy = 64

// busyWait bounds how long a busy reply waits for the client's request: the request is read
// first, because a UNIX socket closed with unread data resets its peer (ECONNRESET) and the
// client would never see the reply.
const busyWait = time.Second

// A Server answers requests on the control socket.
type Server struct {
	ln   *net.UnixListener
	path string
	h    Handler
	log  *slog.Logger

	ctx    context.Context // ends when Close is called; handed to the Handler
	cancel context.CancelFunc
	handle sync.Mutex // one request at a time
	slots  chan struct{}
	busy   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen creates the state directory dir (mode 0700) if missing and serves h on
// dir/control.sock. A socket left by a dead stasis is removed; if a live one answers there,
// Listen refuses rather than steal it.
func Listen(dir string, h Handler, log *slog.Logger) (*Server, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	path := SocketPath(dir)
	if err := removeStale(path); err != nil {
		return nil, err
	}
	if err := os.Remove(ExitedPath(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove the last run's exit note: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// Only stasis's uid may talk to it anyway (SO_PEERCRED); the mode says so too.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{ln: ln, path: path, h: h, log: log, ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, maxConns), busy: make(chan struct{}, maxBusy), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// ensureDir creates dir with mode 0700. An existing directory keeps its mode: the state directory
// may be one the operator made, and the socket's peer check does not depend on it.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("use %s as state directory: not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat state directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // MkdirAll's mode went through the umask
		return fmt.Errorf("chmod state directory %s: %w", dir, err)
	}
	return nil
}

// removeStale removes a socket nobody listens on (a dead stasis's) and refuses a live one or
// anything that is not a socket.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("use %s as control socket: it exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("listen on %s: another stasis is listening there", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe existing socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if s.isClosed() {
				return
			}
			s.log.Warn("accept on control socket", "path", s.path, "err", err)
			time.Sleep(100 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.tooBusy(conn)
			continue
		}
		if !s.track(conn) {
			<-s.slots
			conn.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(conn)
	}
}

// tooBusy answers a connection past maxConns with a busy reply, which Call retries, after
// reading its request (see busyWait) on a goroutine of its own, so that accepting goes on.
func (s *Server) tooBusy(conn *net.UnixConn) {
	select {
	case s.busy <- struct{}{}:
	default:
		conn.Close()
		return
	}
	if !s.track(conn) {
		<-s.busy
		conn.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.busy }()
		defer s.untrack(conn)
		_ = conn.SetReadDeadline(time.Now().Add(busyWait))
		_, _ = readLine(conn)
		s.reply(conn, Response{Busy: true, Error: "busy: too many control connections, retry"})
	}()
}

// serveConn reads one request, handles it and replies.
func (s *Server) serveConn(conn *net.UnixConn) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	defer s.untrack(conn)
	// The request is read before the peer check so that a refused client finds the refusal and
	// not a reset: a UNIX socket closed with unread data resets its peer.
	_ = conn.SetReadDeadline(time.Now().Add(ioTimeout))
	line, rerr := readLine(conn)
	if err := checkPeer(conn); err != nil {
		s.log.Warn("refused control request", "err", err)
		s.reply(conn, Response{Error: err.Error()})
		return
	}
	if rerr != nil {
		s.log.Debug("read control request", "err", rerr)
		s.reply(conn, Response{Error: fmt.Sprintf("read request: %v", rerr)})
		return
	}
	req, err := DecodeRequest(line)
	if err != nil {
		s.reply(conn, Response{Error: err.Error()})
		return
	}
	s.reply(conn, s.call(req))
}

// call runs the handler, one request at a time, and turns a panic into an error reply: a bug in
// one op must not take PID 1 down.
func (s *Server) call(req Request) (resp Response) {
	s.handle.Lock()
	defer s.handle.Unlock()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("control handler panicked", "op", req.Op, "panic", p)
			resp = Response{Error: fmt.Sprintf("%s failed: internal error", req.Op)}
		}
	}()
	if s.ctx.Err() != nil {
		return Response{Error: "stasis is shutting down"}
	}
	return s.h(s.ctx, req)
}

func (s *Server) reply(conn net.Conn, resp Response) {
	_ = conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := writeLine(conn, resp); err != nil {
		s.log.Debug("write control reply", "err", err)
	}
}

// checkPeer refuses a client whose uid is not stasis's. The message does not
// say "refused": the client says that, once.
func checkPeer(conn *net.UnixConn) error {
	uid, err := peerUID(conn)
	if err != nil {
		return fmt.Errorf("cannot tell the client's uid: %w", err)
	}
	if me := os.Getuid(); int(uid) != me {
		return fmt.Errorf("client uid %d is not stasis's uid %d", uid, me)
	}
	return nil
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops serving, ends the handler's context, waits for the connections being served
// (a running handler is waited for) and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Unix(1, 0)) // wake readers; a reply still goes out
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", s.path, rerr))
	}
	if err != nil {
		return fmt.Errorf("close control socket %s: %w", s.path, err)
	}
	return nil
}
