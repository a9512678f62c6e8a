package triggers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Env is what Wait needs from the running JVM.
type Env struct {
	Started  time.Time       // when the JVM started (for delay:); zero means when Wait was called
	Exited   <-chan struct{} // closed when the JVM exited
	Manual   <-chan struct{} // closed, or receives, when `stasis checkpoint` was requested
	Tail     func() []string // last output lines, for error messages; may be nil
	Interval time.Duration   // between probe attempts; 0 means 50 ms
	Progress time.Duration   // between info-level progress lines; 0 means 5 s
	Log      *slog.Logger    // nil means discard
	// OnProbe, if set, hears every probe attempt's outcome ("ok" or the
	// error), for `stasis status`'s last_probe. It must be quick.
	OnProbe func(condition, outcome string)
}

const (
	defaultInterval = 50 * time.Millisecond
	defaultProgress = 5 * time.Second
	minAttempt      = time.Second
)

// ErrExited is wrapped by Wait's error when the JVM exited before it was ready.
var ErrExited = errors.New("the JVM exited before the checkpoint conditions held")

// Waiter waits for the conditions of a Spec. Create it before the JVM starts,
// so that Feed sees the JVM's first line.
type Waiter struct {
	spec Spec
	logs []*logCond
}

// logCond is a log: condition; matched is set at most once, by Feed.
type logCond struct {
	cond    Condition
	matched atomic.Bool
	once    sync.Once
	done    chan struct{}
	line    atomic.Pointer[string]
}

// NewWaiter returns a Waiter for s.
func NewWaiter(s Spec) *Waiter {
	w := &Waiter{spec: s}
	for _, c := range s.Conditions {
		if c.Kind == KindLog {
			w.logs = append(w.logs, &logCond{cond: c, done: make(chan struct{})})
		}
	}
	return w
}

// Feed is called for every line of the JVM's stdout and stderr. It is safe for
// concurrent use and cheap once every log: condition has matched (a few
// atomic loads), since it runs on the output path.
func (w *Waiter) Feed(line string) {
	for _, l := range w.logs {
		if l.matched.Load() {
			continue
		}
		if l.cond.Regex.MatchString(strings.TrimRight(line, "\r\n")) {
			l.once.Do(func() {
				l.line.Store(&line)
				l.matched.Store(true)
				close(l.done)
			})
		}
	}
}

// Wait returns nil when all conditions hold, at once for `app` or an empty
// Spec. It returns a *NotReadyError when ctx ends (STASIS_CHECKPOINT_TIMEOUT)
// or the JVM exits first, saying which conditions were not met, what each
// last saw, and the last lines of output. Every condition is watched by its
// own goroutine, and probes run at once and then every env.Interval, so Wait
// returns within about one interval of the last condition becoming true.
func (w *Waiter) Wait(ctx context.Context, env Env) error {
	env = env.withDefaults()
	if w.spec.IsApp() || w.spec.Empty() {
		env.Log.Debug("not waiting for checkpoint conditions", "spec", w.spec.String())
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the watchers still running
	start := time.Now()
	states := make([]*condState, len(w.spec.Conditions))
	met := make(chan *condState, len(states))
	for i, c := range w.spec.Conditions {
		st := &condState{cond: c, last: initialState(c)}
		states[i] = st
		go func() {
			if w.watch(ctx, st, env) {
				met <- st
			}
		}()
	}
	return w.collect(ctx, env, start, states, met)
}

// collect counts conditions as they are met and logs progress meanwhile.
func (w *Waiter) collect(ctx context.Context, env Env, start time.Time, states []*condState, met <-chan *condState) error {
	tick := time.NewTicker(env.Progress)
	defer tick.Stop()
	for remaining := len(states); remaining > 0; {
		select {
		case st := <-met:
			remaining--
			env.Log.Debug("checkpoint condition met", "condition", st.cond.Raw,
				"after", time.Since(start).Round(time.Millisecond))
		case <-tick.C:
			env.Log.Info("waiting for checkpoint conditions", "unmet", describeUnmet(states),
				"elapsed", time.Since(start).Round(time.Second))
		case <-env.Exited:
			return newNotReady(ErrExited, start, states, env)
		case <-ctx.Done():
			return newNotReady(ctx.Err(), start, states, env)
		}
	}
	env.Log.Info("checkpoint conditions met", "spec", w.spec.String(),
		"after", time.Since(start).Round(time.Millisecond))
	return nil
}

func (e Env) withDefaults() Env {
	if e.Interval <= 0 {
		e.Interval = defaultInterval
	}
	if e.Progress <= 0 {
		e.Progress = defaultProgress
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.Started.IsZero() {
		e.Started = time.Now()
	}
	return e
}

// attemptTimeout bounds one probe attempt. It is at least 2 s because a cold
// JVM may take a while over its first request, and a probe cut short too
// early would never see it succeed.
func attemptTimeout(interval time.Duration) time.Duration {
	return max(interval, 2*time.Second)
}

// watch returns true when its condition holds, false when ctx ended first.
func (w *Waiter) watch(ctx context.Context, st *condState, env Env) bool {
	switch st.cond.Kind {
	case KindHTTP, KindTCP, KindFile:
		return poll(ctx, st, env)
	case KindLog:
		return w.watchLog(ctx, st, env)
	case KindDelay:
		return waitUntil(ctx, st, env, env.Started.Add(st.cond.Delay))
	case KindManual:
		return waitChan(ctx, st, env, env.Manual)
	}
	return false
}

// poll runs the probe at once, then every interval (measured start to
// start), until it succeeds.
func poll(ctx context.Context, st *condState, env Env) bool {
	next := time.Now()
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout(env.Interval))
		err := st.cond.Probe.ProbeOnce(actx)
		cancel()
		if ended(ctx) {
			return false // an attempt cut by Wait's own deadline says nothing about the target
		}
		if env.OnProbe != nil {
			outcome := "ok"
			if err != nil {
				outcome = err.Error()
			}
			env.OnProbe(st.cond.Raw, outcome)
		}
		if st.record(err, env.Log) {
			return true
		}
		next = next.Add(env.Interval)
		if d := time.Until(next); d > 0 {
			if !sleep(ctx, d) {
				return false
			}
		} else {
			next = time.Now()
		}
	}
}

func (w *Waiter) watchLog(ctx context.Context, st *condState, env Env) bool {
	for _, l := range w.logs {
		if l.cond.Raw == st.cond.Raw {
			select {
			case <-l.done:
				st.recordLine(*l.line.Load(), env.Log)
				return true
			case <-ctx.Done():
				return false
			}
		}
	}
	return false
}

func waitUntil(ctx context.Context, st *condState, env Env, at time.Time) bool {
	if !sleep(ctx, time.Until(at)) {
		return false
	}
	return st.record(nil, env.Log)
}

func waitChan(ctx context.Context, st *condState, env Env, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return st.record(nil, env.Log)
	case <-ctx.Done():
		return false
	}
}

// ended reports whether ctx is done or past its deadline: a dial that sees
// the deadline fails with "i/o timeout" a moment before ctx.Err() is set.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
