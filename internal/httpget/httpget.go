// Package httpget owns stasis's minimal HTTP/1.1 client: a GET over a TCP
// connection, plain or TLS, its answer's status line and headers, and its
// body drained by Content-Length, chunked transfer-encoding or until close,
// with kept-alive connections reused for the warm-up.
//
// It exists so that the stasis binary does without net/http, which with its
// dependencies made up most of it: readiness probes and the warm-up only
// ever GET the JVM on this container's own loopback or network, and need no
// proxies, redirects, cookies or compression. TLS is crypto/tls itself:
// services that speak only https are common. Certificates are verified
// unless the request is Insecure, which only a loopback peer may be (its
// certificate is often self-signed). It must not import net/http or any
// other stasis package.
package httpget

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"
)

// dialTimeout bounds a connect when ctx allows longer: a SYN dropped by a
// firewall must not hold a probe or a warm-up worker for minutes.
const dialTimeout = 5 * time.Second

// readBufferSize is the read buffer of a connection, and so the longest
// header line accepted.
const readBufferSize = 16 << 10

// Request is one GET, built once and sent as often as needed.
type Request struct {
	URL  *url.URL
	Addr string // HOST:PORT to dial
	TLS  bool   // https
	// Insecure skips the verification of the server's certificate, for a
	// peer on the loopback interface only (STASIS_PROBE_INSECURE): Dial
	// refuses it for any other peer, whatever the name resolved to.
	Insecure bool
	raw      []byte // the whole request, as written on the wire
}

// NewRequest builds a GET of u, an http or https URL with a host. Unless
// keepAlive is set, it asks the server to close the connection after the
// answer.
func NewRequest(u *url.URL, userAgent string, keepAlive bool) (*Request, error) {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("GET %s: not an http or https URL with a host", u)
	}
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	default:
		port = "80"
	}
	r := &Request{URL: u, Addr: net.JoinHostPort(u.Hostname(), port), TLS: u.Scheme == "https"}
	r.raw = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", u.RequestURI(), u.Host, userAgent)
	if !keepAlive {
		r.raw = append(r.raw, "Connection: close\r\n"...)
	}
	r.raw = append(r.raw, "\r\n"...)
	return r, nil
}

// Conn is one client connection, which may carry several GETs in turn. It
// is not safe for concurrent use.
type Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	ctx    context.Context
	unhook func() bool
}

// Dial connects to addr over plain TCP. ctx bounds the connect and stays
// tied to the connection: cancelling it later cuts whatever the connection
// is doing.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	return DialFor(ctx, &Request{Addr: addr})
}

// DialFor connects to req's server: plain TCP, or TLS for https, the
// handshake bounded like the connect. ctx stays tied to the connection.
func DialFor(ctx context.Context, req *Request) (*Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", req.Addr)
	if err != nil {
		return nil, err // net.OpError already says "dial tcp ADDR: ..."
	}
	if req.TLS {
		if nc, err = handshake(ctx, nc, req); err != nil {
			return nil, err
		}
	}
	c := &Conn{nc: nc, br: bufio.NewReaderSize(nc, readBufferSize), ctx: ctx}
	// A deadline in the past wakes a blocked read or write at once.
	c.unhook = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.unhook()
	return c.nc.Close()
}

// RoundTrip sends req and reads its answer, draining at most maxBody bytes
// of the body. It must be done by deadline (zero: none of its own) and by
// the deadline of Dial's ctx. After an error, or an answer that is not
// KeepAlive, the connection must be closed.
func (c *Conn) RoundTrip(req *Request, deadline time.Time, maxBody int64) (Response, error) {
	if d, ok := c.ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	_ = c.nc.SetDeadline(deadline)
	if err := c.ctx.Err(); err != nil { // checked after SetDeadline: a cancel from now on wins
		return Response{}, err
	}
	if _, err := c.nc.Write(req.raw); err != nil {
		return Response{}, c.ctxErr(fmt.Errorf("write request: %w", err))
	}
	resp, err := ReadResponse(c.br, maxBody)
	if err != nil {
		return resp, c.ctxErr(err)
	}
	return resp, nil
}

// ctxErr reports an I/O error cut by ctx as ctx's own error, as net/http
// does: "context deadline exceeded" says more than "i/o timeout".
func (c *Conn) ctxErr(err error) error {
	if cerr := cause(c.ctx, err); cerr != nil {
		return cerr
	}
	return err
}

// cause returns ctx's error if ctx cut err short, else nil. The socket
// deadline taken from ctx may fire a moment before ctx's own timer, so an
// i/o timeout at or past ctx's deadline counts too.
func cause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// Get sends req on a connection of its own, reads the answer, and closes
// the connection. An answer whose body broke off after the headers is
// returned together with the error.
func Get(ctx context.Context, req *Request, maxBody int64) (Response, error) {
	c, err := DialFor(ctx, req)
	if err != nil {
		return Response{}, dialErr(ctx, err)
	}
	resp, err := c.RoundTrip(req, time.Time{}, maxBody)
	if cerr := c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close connection to %s: %w", req.Addr, cerr)
	}
	return resp, err
}

// dialErr keeps a dial error, which names the address, but makes a timeout
// by ctx recognisable as ctx's error.
func dialErr(ctx context.Context, err error) error {
	if cerr := cause(ctx, err); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", err, cerr)
	}
	return err
}
