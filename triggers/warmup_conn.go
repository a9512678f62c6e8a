package triggers

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"stasis/internal/httpget"
)

// The warm-up sends its requests on its own kept-alive connections, through
// internal/httpget rather than net/http: net/http's Transport hands every
// request to two goroutines per connection, which on a 2-core container cost
// it almost half of wrk's rate, and net/http with crypto/tls made up half of
// the stasis binary. Writing prebuilt request bytes and reading the answer on
// the worker's own goroutine keeps up with wrk (BenchmarkWarmupVsWrk).

// target is one warm-up URL, ready to send.
type target struct {
	url *url.URL
	req *httpget.Request
}

func newTarget(raw string, insecure bool) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("parse warm-up URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return target{}, fmt.Errorf("parse warm-up URL %q: not an http or https URL with a host", raw)
	}
	req, err := httpget.NewRequest(u, "stasis-warmup", true)
	if err != nil {
		return target{}, fmt.Errorf("parse warm-up URL %q: %w", raw, err)
	}
	req.Insecure = insecure
	return target{url: u, req: req}, nil
}

// dial connects to t. Cancelling ctx cuts whatever the connection is doing.
func dial(ctx context.Context, t target) (*httpget.Conn, error) {
	return httpget.DialFor(ctx, t.req)
}

// roundTrip sends t's request and reads the answer, draining its body. keep
// says whether the connection may carry another request.
func roundTrip(c *httpget.Conn, t target) (resp httpget.Response, err error) {
	return c.RoundTrip(t.req, time.Now().Add(warmupHeaderTimeout), maxWarmupBody)
}
