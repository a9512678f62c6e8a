package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
}

// WarmupResult counts what the warm-up did. CmdExit is 0 when no Cmd ran.
type WarmupResult struct {
	Requests, OK, Non2xx, Errors int
	Elapsed                      time.Duration
	CmdExit                      int
}

// Runner starts a command and waits for it through stasis's reaper (nobody
// else may wait for children). err is for a command that could not be run at
// all; a command that ran and failed reports its exit code (128+N when killed
// by signal N) with a nil err.
type Runner func(ctx context.Context, argv []string) (exitCode int, err error)

// Warmup runs the warm-up, then waits cfg.Delay. Non-2xx answers, transport
// errors and a non-zero Cmd exit are logged as warnings and counted, not
// returned: a checkpoint warmed imperfectly still restores faster than a cold
// start. The error is for ctx ending (STASIS_CHECKPOINT_TIMEOUT) and for a
// Cmd that could not be started, a configuration mistake that must not go
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

// ParseURLs parses STASIS_WARMUP_URL: one or more http URLs, separated by
// commas or spaces. An empty string means none. https is refused (see
// healthcheck.ErrHTTPS): the warm-up targets the JVM of this container.
func ParseURLs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, fmt.Errorf("STASIS_WARMUP_URL: %q: no URL", s)
	}
	urls := make([]string, 0, len(fields))
	for _, f := range fields {
		u, err := healthcheck.ParseHTTPURL(f)
		if errors.Is(err, healthcheck.ErrHTTPS) {
			return nil, fmt.Errorf("STASIS_WARMUP_URL: %q: %w: warm up through the plain HTTP port", f, healthcheck.ErrHTTPS)
		}
		if err != nil {
			return nil, fmt.Errorf("STASIS_WARMUP_URL: %w", err)
		}
		urls = append(urls, u.String())
	}
	return urls, nil
}
