// Package control owns stasis's control socket: a UNIX socket DIR/control.sock in the state
// directory through which `stasis checkpoint`, `stasis status` and `stasis healthcheck` talk to
// the running stasis.
//
// The protocol is one JSON object per connection each way, each ended by a newline. Requests
// from another uid are refused (SO_PEERCRED), requests are handled one at a time, a malformed
// request gets an error reply and changes nothing, and every read and write has a deadline so a
// stuck client cannot block stasis.
//
// This package must not import any other stasis package: the supervisor gives it a Handler.
package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the control socket's file name inside the state directory.
const SocketName = "control.sock"

// Ops the server knows. Any other op is answered with an error without calling the Handler.
const (
	OpCheckpoint = "checkpoint"
	OpStatus     = "status"
	OpHealth     = "health"
)

// MaxMessage bounds a request or response line, so a client cannot make stasis buffer without
// end.
const MaxMessage = 1 << 20

// IOTimeout bounds every read and write on a connection.
const IOTimeout = 5 * time.Second

// ioTimeout is IOTimeout; tests shorten it to see a silent client dropped.
var ioTimeout = IOTimeout

// Request asks stasis to do one thing.
type Request struct {
	Op string `json:"op"`
}

// Response is the answer: OK, or an Error; Data carries the op's result (status, health). Busy
// says the server had too many connections to take the request: Call retries it.
type Response struct {
	OK    bool            `json:"ok"`
	Busy  bool            `json:"busy,omitempty"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// A Handler does what a valid request asks. Calls never overlap. ctx ends when the server closes.
type Handler func(ctx context.Context, req Request) Response

// SocketPath is the control socket's path in the state directory dir.
func SocketPath(dir string) string { return filepath.Join(dir, SocketName) }

// DecodeRequest parses one request line: a single JSON object with a known op and no other field.
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("decode request: more than one JSON value")
	}
	if !knownOp(req.Op) {
		return Request{}, fmt.Errorf("decode request: unknown op %q (want %s, %s or %s)", req.Op, OpCheckpoint, OpStatus, OpHealth)
	}
	return req, nil
}

func knownOp(op string) bool {
	return op == OpCheckpoint || op == OpStatus || op == OpHealth
}

// readLine reads one newline-terminated message of at most MaxMessage bytes.
func readLine(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxMessage+1))
	line, err := br.ReadBytes('\n')
	if err == nil {
		return line, nil
	}
	if errors.Is(err, io.EOF) && len(line) > MaxMessage {
		return nil, fmt.Errorf("message longer than %d bytes", MaxMessage)
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		return nil, fmt.Errorf("message not ended by a newline: %w", io.ErrUnexpectedEOF)
	}
	return nil, err
}

// writeLine writes v as one JSON line.
func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Call sends req to the stasis whose state directory is dir and returns its response. It honours
// ctx's deadline and cancellation; a refusal by the server is a Response with OK false, not an
// error. A busy server (too many connections at once) is asked again, with a growing pause,
// until it answers or ctx ends; then the busy Response is returned.
func Call(ctx context.Context, dir string, req Request) (Response, error) {
	pause := 5 * time.Millisecond
	for {
		resp, err := callOnce(ctx, dir, req)
		if err != nil || !resp.Busy {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return resp, nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

func callOnce(ctx context.Context, dir string, req Request) (Response, error) {
	path := SocketPath(dir)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("connect to %s: %w", path, ctxErr(ctx, err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	werr := writeLine(conn, req)
	line, err := readLine(conn) // even if the write failed: the server may have said why
	if err != nil && werr != nil {
		return Response{}, fmt.Errorf("send %q to %s: %w", req.Op, path, ctxErr(ctx, werr))
	}
	if err != nil {
		return Response{}, fmt.Errorf("read reply to %q from %s: %w", req.Op, path, ctxErr(ctx, err))
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("decode reply to %q from %s: %w", req.Op, path, err)
	}
	return resp, nil
}

// ctxErr names the context's reason for the i/o timeout it caused. The connection's deadline is
// the context's, so the timeout can fire a moment before the context reports being done.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}
