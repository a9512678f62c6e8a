package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logBuffer bounds what stasis's own log lines may queue while its stderr
// is blocked: about 4,000 lines.
const logBuffer = 1 << 20

// A logWriter takes stasis's own log lines without ever blocking the caller:
// a goroutine writes them to stderr in order. When stderr is blocked (a full
// pipe nobody reads) the supervisor still forwards signals, kills on time
// and exits; it was measured that a blocked stderr made a 3 s stop timeout
// last 16.5 s. Lines that do not fit in logBuffer are counted and the count
// is written once stderr drains. Every Write is one whole line (slog writes
// one record per call), so lines never interleave or tear.
type logWriter struct {
	w io.Writer

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []byte
	writing bool // the goroutine holds lines it has taken from queue
	dropped int
}

func newLogWriter(w io.Writer) *logWriter {
	l := &logWriter{w: w}
	l.cond = sync.NewCond(&l.mu)
	go l.run()
	return l
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue)+len(p) > logBuffer {
		l.dropped++
		return len(p), nil
	}
	l.queue = append(l.queue, p...)
	l.cond.Broadcast()
	return len(p), nil
}

func (l *logWriter) run() {
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && l.dropped == 0 {
			l.writing = false
			l.cond.Broadcast()
			l.cond.Wait()
		}
		b, dropped := l.queue, l.dropped
		l.queue, l.dropped, l.writing = nil, 0, true
		l.mu.Unlock()
		_, _ = l.w.Write(b) // a failed write to stderr has nowhere else to go
		if dropped > 0 {
			fmt.Fprintf(l.w, "stasis: %d log lines dropped: stderr was blocked\n", dropped)
		}
	}
}

// Flush waits until every queued line is written, at most timeout: on its
// way out stasis gives a blocked stderr a moment, never forever.
func (l *logWriter) Flush(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		l.mu.Lock()
		for len(l.queue) > 0 || l.writing {
			l.cond.Wait()
		}
		l.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
