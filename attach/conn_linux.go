package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dial connects to the JVM's socket as the JVM's user. The listener serves
// one client at a time with a backlog of 5; when that is full, connect says
// EAGAIN and we retry until the deadline.
func dial(ctx context.Context, t target, sock string, timeout time.Duration) (net.Conn, error) {
	for delay := firstPoll; ; delay = min(2*delay, maxPoll) {
		fd, err := connectTo(t, sock)
		if err == nil {
			return fdConn(fd, sock)
		}
		if !errors.Is(err, unix.EAGAIN) {
			if errors.Is(err, unix.ECONNREFUSED) {
				return nil, fmt.Errorf("attach to pid %d: %w (a stale socket left by a JVM that died?)", t.pid, err)
			}
			return nil, fmt.Errorf("attach to pid %d: %w", t.pid, err)
		}
		if !sleepCtx(ctx, delay) {
			return nil, timeoutError(ctx, timeout, "pid %d did not accept a connection on %s (its attach listener is busy)", t.pid, sock)
		}
	}
}

// connectTo connects as ourselves when we already have the JVM's ids, and
// borrows them on one thread when we are root and do not.
func connectTo(t target, sock string) (int, error) {
	if unix.Geteuid() == t.euid && unix.Getegid() == t.egid {
		return connectUnix(sock)
	}
	return connectAs(sock, t.euid, t.egid)
}

func fdConn(fd int, sock string) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), sock)
	defer f.Close() // FileConn holds its own duplicate
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("wrap socket %s: %w", sock, err)
	}
	return conn, nil
}

// exchange sends the request and reads the whole reply: HotSpot writes the
// status and the output, then shuts the connection down.
func exchange(ctx context.Context, t target, conn net.Conn, req []byte, timeout time.Duration) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A caller's cancel interrupts blocked I/O at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(req); err != nil {
		return nil, ioError(ctx, t, timeout, "send request to", err)
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxReplyBytes))
	if err != nil && !(errors.Is(err, unix.ECONNRESET) && len(reply) > 0) {
		// A reset after a reply means the JVM went away once it had
		// answered, as it does after a successful checkpoint.
		return nil, ioError(ctx, t, timeout, "read reply from", err)
	}
	return reply, nil
}

func ioError(ctx context.Context, t target, timeout time.Duration, op string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return timeoutError(ctx, timeout, "pid %d did not answer", t.pid)
	}
	return fmt.Errorf("%s pid %d: %w", op, t.pid, err)
}
