package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"stasis/internal/httpget"
)

const (
	defaultConcurrency = 4
	// maxWarmupBody is drained per response; past it the connection is
	// dropped rather than read to the end.
	maxWarmupBody = 8 << 20
	// warmupHeaderTimeout bounds one request: one that hangs counts as an error instead
	// of holding its worker until the checkpoint timeout.
	warmupHeaderTimeout = time.Minute
)

// warmupProgress is how often a long warm-up logs its progress.
var warmupProgress = 5 * time.Second

// load is one HTTP warm-up run: its plan and its counters.
type load struct {
	targets []target
	total   int64 // 0: until the deadline
	issued  atomic.Int64
	done    atomic.Int64
	ok      atomic.Int64
	non2xx  atomic.Int64
	errs    atomic.Int64
	lastBad atomic.Pointer[string]
	// answers counts the requests by status line, for the failure's message.
	mu      sync.Mutex
	answers map[string]int
}

func warmupHTTP(ctx context.Context, cfg WarmupConfig, log *slog.Logger) (WarmupResult, error) {
	l, conc, err := newLoad(cfg)
	if err != nil {
		return WarmupResult{}, err
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
	}
	defer cancel()
	log.Info("warming up", "urls", len(l.targets), "requests", cfg.Requests,
		"duration", cfg.Duration, "concurrency", conc)
	start := time.Now()
	stopProgress := l.logProgress(log, start)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() { l.worker(runCtx) })
	}
	wg.Wait() // each worker closed its connections: none outlives the warm-up
	stopProgress()
	res := l.result(time.Since(start))
	l.logDone(log, res)
	if ended(ctx) {
		return res, fmt.Errorf("warm up %s: %w", l.targets[0].url, endedErr(ctx))
	}
	return res, nil
}

// endedErr is ctx's error once ended(ctx). The socket deadlines taken from
// ctx can fire, and the workers return, a moment before ctx's own timer
// does, while ctx.Err() is still nil.
func endedErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

func newLoad(cfg WarmupConfig) (*load, int, error) {
	l := &load{total: int64(cfg.Requests), answers: map[string]int{}}
	for _, raw := range cfg.URLs {
		t, err := newTarget(raw, cfg.Insecure)
		if err != nil {
			return nil, 0, err
		}
		l.targets = append(l.targets, t)
	}
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		l.total = int64(len(l.targets)) // one request per URL
	}
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = defaultConcurrency
	}
	if l.total > 0 && int64(conc) > l.total {
		conc = int(l.total)
	}
	return l, conc, nil
}

// worker sends requests until the plan is done or ctx ends, on one
// kept-alive connection per host:port. It closes them all before returning:
// the JVM's end of a connection left open would be captured by the
// checkpoint.
func (l *load) worker(ctx context.Context) {
	conns := map[string]*httpget.Conn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for {
		n := l.issued.Add(1)
		if (l.total > 0 && n > l.total) || ctx.Err() != nil {
			return
		}
		if !l.send(ctx, conns, l.targets[(n-1)%int64(len(l.targets))]) {
			return
		}
	}
}

// send makes one request and counts it; false means ctx ended during it, and
// the request is not counted (the deadline cut it, not the server).
func (l *load) send(ctx context.Context, conns map[string]*httpget.Conn, t target) bool {
	for retry := true; ; retry = false {
		c, reused := conns[t.req.Addr]
		if !reused {
			var err error
			if c, err = dial(ctx, t); err != nil {
				return l.failed(ctx, t, err)
			}
			conns[t.req.Addr] = c
		}
		resp, err := roundTrip(c, t)
		if err != nil || !resp.KeepAlive {
			_ = c.Close()
			delete(conns, t.req.Addr)
		}
		if err != nil {
			// A kept-alive connection may have been closed by the server
			// meanwhile; like net/http, retry such a GET once on a new one.
			if reused && retry && !ended(ctx) {
				continue
			}
			return l.failed(ctx, t, err)
		}
		l.count(t, resp)
		return true
	}
}

func (l *load) failed(ctx context.Context, t target, err error) bool {
	if ended(ctx) {
		return false
	}
	msg := fmt.Sprintf("GET %s: %v", t.url, err)
	l.lastBad.Store(&msg)
	l.errs.Add(1)
	l.done.Add(1)
	return true
}

func (l *load) count(t target, resp httpget.Response) {
	if resp.Code >= 200 && resp.Code <= 299 {
		l.ok.Add(1)
	} else {
		msg := fmt.Sprintf("GET %s: %s", t.url, resp.Status)
		l.lastBad.Store(&msg)
		l.non2xx.Add(1)
	}
	l.mu.Lock()
	l.answers[resp.Status]++
	l.mu.Unlock()
	l.done.Add(1)
}

func (l *load) result(elapsed time.Duration) WarmupResult {
	l.mu.Lock()
	answers := maps.Clone(l.answers)
	l.mu.Unlock()
	last := ""
	if p := l.lastBad.Load(); p != nil {
		last = *p
	}
	return WarmupResult{Requests: int(l.done.Load()), OK: int(l.ok.Load()),
		Non2xx: int(l.non2xx.Load()), Errors: int(l.errs.Load()), Elapsed: elapsed,
		Answers: answers, LastBad: last}
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
		log.Warn("some warm-up requests failed", "non2xx", r.Non2xx,
			"errors", r.Errors, "last", r.LastBad)
	}
}

func rate(r WarmupResult) string {
	if r.Elapsed <= 0 {
		return "0/s"
	}
	return fmt.Sprintf("%.0f/s", float64(r.Requests)/r.Elapsed.Seconds())
}
