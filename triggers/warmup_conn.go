package triggers

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// The warm-up sends its requests on its own kept-alive connections rather
// than through net/http's Transport: the Transport hands every request to two
// goroutines per connection, and on a 2-core container that cost it almost
// half of wrk's rate, while writing prebuilt request bytes and reading the
// answer with http.ReadResponse on the worker's own goroutine keeps up with
// wrk (BenchmarkWarmupVsWrk).

// target is one warm-up URL, ready to send.
type target struct {
	url  *url.URL
	addr string // HOST:PORT to dial
	tls  bool
	req  []byte // the whole GET request
}

func newTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("parse warm-up URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
		return target{}, fmt.Errorf("parse warm-up URL %q: not an http or https URL with a host", raw)
	}
	t := target{url: u, tls: u.Scheme == "https"}
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "80", true: "443"}[t.tls]
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	t.req = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: stasis-warmup\r\n\r\n", u.RequestURI(), u.Host)
	return t, nil
}

// clientConn is one kept-alive connection of a worker.
type clientConn struct {
	net.Conn
	br     *bufio.Reader
	unhook func() bool
}

// dial connects to t. Cancelling ctx cuts whatever the connection is doing,
// by moving its deadline into the past.
func dial(ctx context.Context, t target) (*clientConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if t.tls {
		tc := tls.Client(conn, &tls.Config{ServerName: t.url.Hostname(), InsecureSkipVerify: true}) // the container's own app
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	c := &clientConn{Conn: conn, br: bufio.NewReaderSize(conn, 16<<10)}
	c.unhook = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

func (c *clientConn) close() {
	c.unhook()
	_ = c.Conn.Close()
}

// roundTrip sends t's request and reads the answer, draining its body. keep
// says whether the connection may carry another request.
func (c *clientConn) roundTrip(ctx context.Context, t target) (code int, keep bool, err error) {
	deadline := time.Now().Add(warmupHeaderTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	if err := ctx.Err(); err != nil { // checked after SetDeadline: a cancel from now on wins
		return 0, false, err
	}
	if _, err := c.Write(t.req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, false, err
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxWarmupBody))
	_ = resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close && n < maxWarmupBody, nil
}
