package triggers

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultConcurrency = 4
	// maxWarmupBody is drained per response; past it the connection is
	// dropped rather than read to the end.
	maxWarmupBody = 8 << 20
	// warmupHeaderTimeout counts a request that hangs as an error instead
	// of holding its worker until the checkpoint timeout.
	warmupHeaderTimeout = time.Minute
)

// warmupProgress is how often a long warm-up logs its progress.
var warmupProgress = 5 * time.Second

// load is one HTTP warm-up run: its plan and its counters.
type load struct {
	urls    []*url.URL
	total   int64 // 0: until the deadline
	tr      *http.Transport
	issued  atomic.Int64
	done    atomic.Int64
	ok      atomic.Int64
	non2xx  atomic.Int64
	errs    atomic.Int64
	lastBad atomic.Pointer[string]
}

func warmupHTTP(ctx context.Context, cfg WarmupConfig, log *slog.Logger) (WarmupResult, error) {
	l, conc, err := newLoad(cfg)
	if err != nil {
		return WarmupResult{}, err
	}
	// Keep-alive connections must not outlive the warm-up: the JVM's end of
	// each would be captured by the checkpoint.
	defer l.tr.CloseIdleConnections()
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
	}
	defer cancel()
	log.Info("warming up", "urls", len(l.urls), "requests", cfg.Requests,
		"duration", cfg.Duration, "concurrency", conc)
	start := time.Now()
	stopProgress := l.logProgress(log, start)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() { l.worker(runCtx) })
	}
	wg.Wait()
	stopProgress()
	l.tr.CloseIdleConnections()
	res := l.result(time.Since(start))
	l.logDone(log, res)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("warm up %s: %w", l.urls[0], err)
	}
	return res, nil
}

func newLoad(cfg WarmupConfig) (*load, int, error) {
	l := &load{total: int64(cfg.Requests)}
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, 0, fmt.Errorf("parse warm-up URL %q: %w", raw, err)
		}
		l.urls = append(l.urls, u)
	}
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		l.total = int64(len(l.urls)) // one request per URL
	}
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = defaultConcurrency
	}
	if l.total > 0 && int64(conc) > l.total {
		conc = int(l.total)
	}
	l.tr = newWarmupTransport(conc)
	return l, conc, nil
}

// newWarmupTransport is tuned for many small requests to a few local hosts:
// one kept-alive connection per worker, no proxy, no gzip.
func newWarmupTransport(conc int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   conc,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: warmupHeaderTimeout,
		DisableCompression:    true,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, // the container's own app
	}
}

// worker sends requests until the plan is done or ctx ends. Each worker
// builds its requests once and reuses them: a GET without a body may be sent
// again once the previous response's body is closed.
func (l *load) worker(ctx context.Context) {
	reqs := make([]*http.Request, len(l.urls))
	for i, u := range l.urls {
		reqs[i] = (&http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"User-Agent": {"stasis-warmup"}}}).WithContext(ctx)
	}
	for {
		n := l.issued.Add(1)
		if (l.total > 0 && n > l.total) || ctx.Err() != nil {
			return
		}
		if !l.send(ctx, reqs[(n-1)%int64(len(reqs))]) {
			return
		}
	}
}

// send makes one request and counts it; false means ctx ended during it, and
// the request is not counted (the deadline cut it, not the server).
func (l *load) send(ctx context.Context, req *http.Request) bool {
	resp, err := l.tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		msg := fmt.Sprintf("GET %s: %v", req.URL, err)
		l.lastBad.Store(&msg)
		l.errs.Add(1)
		l.done.Add(1)
		return true
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWarmupBody))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		l.ok.Add(1)
	} else {
		msg := fmt.Sprintf("GET %s: %s", req.URL, resp.Status)
		l.lastBad.Store(&msg)
		l.non2xx.Add(1)
	}
	l.done.Add(1)
	return true
}

func (l *load) result(elapsed time.Duration) WarmupResult {
	return WarmupResult{Requests: int(l.done.Load()), OK: int(l.ok.Load()),
		Non2xx: int(l.non2xx.Load()), Errors: int(l.errs.Load()), Elapsed: elapsed}
}

func (l *load) logProgress(log *slog.Logger, start time.Time) (stop func()) {
	t := time.NewTicker(warmupProgress)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-t.C:
				r := l.result(time.Since(start))
				log.Info("warm-up progress", "requests", r.Requests, "rate", rate(r),
					"non2xx", r.Non2xx, "errors", r.Errors)
			case <-quit:
				return
			}
		}
	})
	return func() { t.Stop(); close(quit); wg.Wait() }
}

func (l *load) logDone(log *slog.Logger, r WarmupResult) {
	log.Info("warm-up requests done", "requests", r.Requests, "ok", r.OK, "rate", rate(r),
		"elapsed", r.Elapsed.Round(time.Millisecond))
	if r.Non2xx+r.Errors > 0 {
		last := ""
		if p := l.lastBad.Load(); p != nil {
			last = *p
		}
		log.Warn("some warm-up requests failed; checkpointing anyway", "non2xx", r.Non2xx,
			"errors", r.Errors, "last", last)
	}
}

func rate(r WarmupResult) string {
	if r.Elapsed <= 0 {
		return "0/s"
	}
	return fmt.Sprintf("%.0f/s", float64(r.Requests)/r.Elapsed.Seconds())
}
