package healthcheck

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"stasis/internal/httpget"
)

// maxProbeBody bounds how much of a response body a probe reads: enough to
// finish a typical health document, small enough that a misdirected probe at
// a large resource costs nothing.
const maxProbeBody = 64 << 10

// HTTPProbe is ready when a GET of URL answers 2xx.
//
// It speaks HTTP or HTTPS through httpget rather than net/http, which made
// up most of the stasis binary. Certificates are verified unless
// SetInsecure was called, for a loopback target only.
type HTTPProbe struct {
	URL *url.URL
	req *httpget.Request
}

// StatusError is the error of an HTTP probe whose target answered, but not 2xx.
type StatusError struct {
	URL    string
	Code   int
	Status string // "503 Service Unavailable"
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

// newHTTPProbe builds the probe's request once. It asks for the connection
// to be closed: a probe must never leave an established connection behind,
// since the JVM's end of it would be captured by the checkpoint and
// restored as a socket whose peer is gone. There is no proxy support, so an
// inherited HTTP_PROXY cannot reroute a probe of the local app.
func newHTTPProbe(u *url.URL) (*HTTPProbe, error) {
	req, err := httpget.NewRequest(u, "stasis-probe", false)
	if err != nil {
		return nil, err
	}
	return &HTTPProbe{URL: u, req: req}, nil
}

func (p *HTTPProbe) String() string { return p.URL.String() }

// ProbeOnce sends one GET, bounded by ctx.
func (p *HTTPProbe) ProbeOnce(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := httpget.Get(ctx, p.req, maxProbeBody)
	if resp.Code == 0 { // no answer; a body cut short still has its status
		return fmt.Errorf("GET %s: %w", p.URL, err)
	}
	if resp.Code < 200 || resp.Code > 299 {
		return &StatusError{URL: p.URL.String(), Code: resp.Code, Status: resp.Status}
	}
	return nil
}

// attemptTimeout is how long one probe attempt may take when the caller's
// context has no deadline of its own: a target that accepts connections but
// never answers must not hang a probe.
const attemptTimeout = 5 * time.Second

func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, attemptTimeout)
}
