package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// maxProbeBody bounds how much of a response body a probe reads: enough to
// finish a typical health document, small enough that a misdirected probe at
// a large resource costs nothing.
const maxProbeBody = 64 << 10

// HTTPProbe is ready when a GET of URL answers 2xx.
type HTTPProbe struct {
	URL    *url.URL
	client *http.Client
}

// StatusError is the error of an HTTP probe whose target answered, but not 2xx.
type StatusError struct {
	URL    string
	Code   int
	Status string // "503 Service Unavailable"
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

func newHTTPProbe(u *url.URL) *HTTPProbe {
	tr := &http.Transport{
		// A probe must never leave an established connection behind: the
		// JVM's end of it would be captured by the checkpoint and restored
		// as a socket whose peer is gone.
		DisableKeepAlives: true,
		// Readiness is about this container's own app; an inherited
		// HTTP_PROXY must not reroute it.
		Proxy:              nil,
		DisableCompression: true,
		DialContext:        (&net.Dialer{}).DialContext,
		// Like Kubernetes' HTTPS probes: a local app with a self-signed
		// certificate is still ready.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	return &HTTPProbe{URL: u, client: &http.Client{Transport: tr}}
}

func (p *HTTPProbe) String() string { return p.URL.String() }

// ProbeOnce sends one GET, bounded by ctx.
func (p *HTTPProbe) ProbeOnce(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL.String(), nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.URL, err)
	}
	req.Header.Set("User-Agent", "stasis-probe")
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop url.Error's own `Get "URL":` prefix
		}
		return fmt.Errorf("GET %s: %w", p.URL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{URL: p.URL.String(), Code: resp.StatusCode, Status: resp.Status}
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
