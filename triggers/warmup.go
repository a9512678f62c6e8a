package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"stasis/healthcheck"
)

// WarmupConfig says how to warm the JVM up before the checkpoint.
//
// With URLs, Concurrency workers (default 4) send GETs round-robin over the
// URLs until Requests have been sent or Duration has passed, whichever comes
// first when both are set. With neither set, each URL is requested once: a
// URL alone still loads the classes behind it. Cmd, if set, runs after the
// requests, until it exits or ctx ends. Delay is waited after both.
type WarmupConfig struct {
	URLs        []string
	Requests    int
	Concurrency int
	Duration    time.Duration
	Cmd         []string
	Delay       time.Duration // STASIS_CHECKPOINT_DELAY, waited after the warm-up
	// MinSuccess is the share of requests (0..1) that must answer 2xx, else
	// the warm-up fails (STASIS_WARMUP_MIN_SUCCESS); 0 accepts any answers.
	MinSuccess float64
	// Insecure skips certificate checks of https URLs on loopback targets
	// (STASIS_PROBE_INSECURE).
	Insecure bool
}

// WarmupResult counts what the warm-up did. CmdExit is 0 when no Cmd ran.
// Answers counts the requests by status line ("404 Not Found"); LastBad is
// the last failed request and why.
type WarmupResult struct {
	Requests, OK, Non2xx, Errors int
	Elapsed                      time.Duration
	CmdExit                      int
	Answers                      map[string]int
	LastBad                      string
}

// WarmupFailedError is a warm-up whose requests mostly failed: the JVM it
// leaves is not warm (its error paths are, at best), so no image is made.
type WarmupFailedError struct {
	Result     WarmupResult
	MinSuccess float64
}

func (e *WarmupFailedError) Error() string {
	r := e.Result
	msg := fmt.Sprintf("warm-up failed: %d of %d requests answered 2xx, STASIS_WARMUP_MIN_SUCCESS=%g needs %d; the answers were %s",
		r.OK, r.Requests, e.MinSuccess, needed(r.Requests, e.MinSuccess), describeAnswers(r))
	if r.LastBad != "" {
		msg += "; last failure: " + r.LastBad
	}
	return msg
}

// needed is how many of n requests must succeed: a share, rounded up.
func needed(n int, share float64) int {
	return int(math.Ceil(float64(n)*share - 1e-9))
}

// describeAnswers lists the answers by status, most frequent first, then
// the requests that got none: "18 × 404 Not Found, 2 × 200 OK, 1 without answer".
func describeAnswers(r WarmupResult) string {
	type kv struct {
		status string
		n      int
	}
	var list []kv
	for s, n := range r.Answers {
		list = append(list, kv{s, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].status < list[j].status
	})
	var parts []string
	for _, a := range list {
		parts = append(parts, fmt.Sprintf("%d × %s", a.n, a.status))
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d without answer", r.Errors))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// check applies MinSuccess to the requests' outcome.
func (cfg WarmupConfig) check(r WarmupResult) error {
	if cfg.MinSuccess <= 0 || r.Requests == 0 || r.OK >= needed(r.Requests, cfg.MinSuccess) {
		return nil
	}
	return &WarmupFailedError{Result: r, MinSuccess: cfg.MinSuccess}
}

// Runner starts a command and waits for it through stasis's reaper (nobody
// else may wait for children). err is for a command that could not be run at
// all; a command that ran and failed reports its exit code (128+N when killed
// by signal N) with a nil err.
type Runner func(ctx context.Context, argv []string) (exitCode int, err error)

// Warmup runs the warm-up, then waits cfg.Delay. Non-2xx answers and
// transport errors are counted; fewer than cfg.MinSuccess of the requests
// answering 2xx is a *WarmupFailedError: a JVM that answered 404 to every
// warm-up request has warmed nothing but its error path, and an image of it
// would be restored as if warm. A non-zero Cmd exit is logged as a warning.
// The error is also for ctx ending (STASIS_CHECKPOINT_TIMEOUT) and for a Cmd
// that could not be started, a configuration mistake that must not go
// unnoticed into an image.
func Warmup(ctx context.Context, cfg WarmupConfig, run Runner, log *slog.Logger) (WarmupResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	var res WarmupResult
	if len(cfg.URLs) > 0 {
		var err error
		res, err = warmupHTTP(ctx, cfg, log)
		if err == nil {
			err = cfg.check(res)
		}
		if err != nil {
			res.Elapsed = time.Since(start)
			return res, err
		}
	}
	if len(cfg.Cmd) > 0 {
		code, err := runCmd(ctx, cfg.Cmd, run, log)
		res.CmdExit = code
		if err != nil {
			res.Elapsed = time.Since(start)
			return res, err
		}
	}
	res.Elapsed = time.Since(start)
	if cfg.Delay > 0 {
		log.Info("settling before the checkpoint", "delay", cfg.Delay)
		if !sleep(ctx, cfg.Delay) {
			return res, fmt.Errorf("wait %v after the warm-up: %w", cfg.Delay, ctx.Err())
		}
	}
	return res, nil
}

func runCmd(ctx context.Context, argv []string, run Runner, log *slog.Logger) (int, error) {
	if run == nil {
		return 0, errors.New("run warm-up command: no runner")
	}
	log.Info("running the warm-up command", "argv", argv)
	start := time.Now()
	code, err := run(ctx, argv)
	if err != nil {
		return code, fmt.Errorf("run warm-up command %q: %w", argv[0], err)
	}
	if code != 0 {
		log.Warn("warm-up command failed; checkpointing anyway", "argv", argv, "exit", code,
			"elapsed", time.Since(start).Round(time.Millisecond))
	} else {
		log.Info("warm-up command done", "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return code, nil
}

// ParseURLs parses STASIS_WARMUP_URL: one or more http or https URLs,
// separated by commas or spaces. An empty string means none. An error quotes
// the URL at fault; the caller names the setting.
func ParseURLs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, fmt.Errorf("%q: no URL", s)
	}
	urls := make([]string, 0, len(fields))
	for _, f := range fields {
		u, err := healthcheck.ParseHTTPURL(f)
		if err != nil {
			return nil, err
		}
		urls = append(urls, u.String())
	}
	return urls, nil
}
