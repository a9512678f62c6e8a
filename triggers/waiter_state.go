package triggers

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// condState is what one watcher last saw, read by progress lines and errors.
type condState struct {
	cond     Condition
	mu       sync.Mutex
	met      bool
	last     string
	attempts int
}

func initialState(c Condition) string {
	switch c.Kind {
	case KindLog:
		return "no matching line yet"
	case KindDelay:
		return "delay not elapsed"
	case KindManual:
		return "`stasis checkpoint` not run yet"
	}
	return "not probed yet"
}

// record notes one probe result and logs a debug line when the state changed
// (so a long wait logs each new failure once, not every attempt). It returns
// whether the condition now holds.
func (s *condState) record(err error, log *slog.Logger) bool {
	now := "ready"
	if err != nil {
		now = err.Error()
	}
	s.mu.Lock()
	s.attempts++
	changed := now != s.last
	s.last, s.met = now, err == nil
	s.mu.Unlock()
	if changed {
		log.Debug("checkpoint condition state", "condition", s.cond.Raw, "state", now)
	}
	return err == nil
}

func (s *condState) recordLine(line string, log *slog.Logger) {
	s.mu.Lock()
	s.last, s.met = "matched", true
	s.mu.Unlock()
	log.Debug("checkpoint condition state", "condition", s.cond.Raw, "state", "matched", "line", line)
}

// UnmetCondition is one condition that did not hold when Wait gave up.
type UnmetCondition struct {
	Condition string // the item as written
	Last      string // the last probe error, or what is still missing
	Attempts  int    // probe attempts made (0 for non-probe conditions)
}

func (u UnmetCondition) String() string {
	if u.Attempts > 0 {
		return fmt.Sprintf("%s (last: %s; %d attempts)", u.Condition, u.Last, u.Attempts)
	}
	return fmt.Sprintf("%s (%s)", u.Condition, u.Last)
}

// NotReadyError is Wait's error: the conditions not met, and why it gave up.
type NotReadyError struct {
	Cause   error // context.DeadlineExceeded, context.Canceled or ErrExited
	Elapsed time.Duration
	Unmet   []UnmetCondition
	Tail    []string // the JVM's last output lines
}

func (e *NotReadyError) Unwrap() error { return e.Cause }

// Error is one line, so that it logs well: the tail lines are quoted.
func (e *NotReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wait for %s: %v after %v; not met: ", setting, e.Cause, e.Elapsed.Round(time.Millisecond))
	for i, u := range e.Unmet {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(u.String())
	}
	if len(e.Tail) > 0 {
		b.WriteString("; last output:")
		for _, l := range e.Tail {
			fmt.Fprintf(&b, " %q", l)
		}
	}
	return b.String()
}

func newNotReady(cause error, start time.Time, states []*condState, env Env) error {
	e := &NotReadyError{Cause: cause, Elapsed: time.Since(start), Unmet: unmet(states)}
	if env.Tail != nil {
		e.Tail = env.Tail()
	}
	return e
}

func unmet(states []*condState) []UnmetCondition {
	var out []UnmetCondition
	for _, s := range states {
		s.mu.Lock()
		if !s.met {
			u := UnmetCondition{Condition: s.cond.Raw, Last: s.last}
			if s.cond.Probe != nil {
				u.Attempts = s.attempts
			}
			out = append(out, u)
		}
		s.mu.Unlock()
	}
	return out
}

func describeUnmet(states []*condState) string {
	var parts []string
	for _, u := range unmet(states) {
		parts = append(parts, u.String())
	}
	return strings.Join(parts, ", ")
}
