package stdio

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// MaxLine is the longest piece held back while waiting for a newline: a longer line is passed
// through in pieces of about this size, unchanged.
const MaxLine = 64 << 10

// IdleFlush is how long a partial line (no newline yet) is held back before it is written
// anyway, so prompts and progress bars still show.
const IdleFlush = 50 * time.Millisecond

// A lineWriter writes one stream to its destination in whole lines: every Write to dst ends with
// a newline, except for an idle or oversized partial line. So stasis's own log lines, written to
// the same stderr, never land in the middle of a JVM line. Bytes are never altered.
type lineWriter struct {
	name string
	dst  io.Writer
	tap  func(stream, line string)
	tail *tail

	mu    sync.Mutex
	pend  []byte // read but not yet written; holds no newline
	line  []byte // the current line for tap and tail, at most MaxLine bytes
	timer *time.Timer
	armed bool
	gen   uint64 // which arming the timer belongs to; a stale firing is ignored
	err   error  // first write error; later output is dropped, the child must not block
}

func newLineWriter(name string, dst io.Writer, tap func(string, string), t *tail) *lineWriter {
	return &lineWriter{name: name, dst: dst, tap: tap, tail: t}
}

// write takes bytes as they were read.
func (w *lineWriter) write(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan(p)
	w.forward(p)
}

// forward writes everything up to the last newline in one Write and holds back the rest.
func (w *lineWriter) forward(p []byte) {
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		if len(w.pend) > 0 {
			w.pend = append(w.pend, p[:i+1]...)
			w.out(w.pend)
			w.pend = w.pend[:0]
		} else {
			w.out(p[:i+1])
		}
		p = p[i+1:]
		// The held-back line is complete: a partial one that follows gets a
		// full idle period of its own.
		w.disarm()
	}
	w.pend = append(w.pend, p...)
	switch {
	case len(w.pend) >= MaxLine:
		w.out(w.pend)
		w.pend = w.pend[:0]
		w.disarm()
	case len(w.pend) > 0 && !w.armed:
		w.arm()
	}
}

// arm starts the idle timer; it fires IdleFlush after the first held-back byte.
func (w *lineWriter) arm() {
	w.armed = true
	w.gen++
	gen := w.gen
	w.timer = time.AfterFunc(IdleFlush, func() { w.idle(gen) })
}

// disarm stops the idle timer. A firing already waiting for the lock finds
// its generation outdated and does nothing.
func (w *lineWriter) disarm() {
	if w.armed {
		w.timer.Stop()
		w.armed = false
		w.gen++
	}
}

func (w *lineWriter) idle(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen {
		return
	}
	w.armed = false
	if len(w.pend) > 0 {
		w.out(w.pend)
		w.pend = w.pend[:0]
	}
}

// flush writes what is held back and reports an unterminated last line; called once at the end.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disarm()
	if len(w.pend) > 0 {
		w.out(w.pend)
		w.pend = w.pend[:0]
	}
	if len(w.line) > 0 {
		w.emit()
	}
}

func (w *lineWriter) out(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.dst.Write(b); err != nil {
		w.err = fmt.Errorf("forward %s: %w", w.name, err)
	}
}

func (w *lineWriter) error() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// scan splits p into lines for the tap and the tail.
func (w *lineWriter) scan(p []byte) {
	if w.tap == nil {
		if w.tail.n <= 0 {
			return
		}
		p = w.skipToTail(p)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.appendLine(p)
			return
		}
		w.appendLine(p[:i])
		w.emit()
		p = p[i+1:]
	}
}

// skipToTail drops the lines of p that the tail would forget anyway, so that forwarding a
// flood of lines does not cost a string per line when nobody taps them.
func (w *lineWriter) skipToTail(p []byte) []byte {
	end := len(p)
	for range w.tail.n + 1 {
		i := bytes.LastIndexByte(p[:end], '\n')
		if i < 0 {
			return p
		}
		end = i
	}
	w.line = w.line[:0]
	return p[end+1:]
}

func (w *lineWriter) appendLine(p []byte) {
	if room := MaxLine - len(w.line); len(p) > room {
		p = p[:room]
	}
	w.line = append(w.line, p...)
}

func (w *lineWriter) emit() {
	s := string(w.line)
	w.line = w.line[:0]
	if w.tap != nil {
		w.tap(w.name, s)
	}
	w.tail.add(s)
}

// A tail keeps the last n lines of both streams.
type tail struct {
	n    int
	mu   sync.Mutex
	ring []string
	next int
	full bool
}

func newTail(n int) *tail {
	if n < 0 {
		n = 0
	}
	return &tail{n: n, ring: make([]string, n)}
}

func (t *tail) add(s string) {
	if t.n == 0 {
		return
	}
	t.mu.Lock()
	t.ring[t.next] = s
	t.next = (t.next + 1) % t.n
	if t.next == 0 {
		t.full = true
	}
	t.mu.Unlock()
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return append([]string(nil), t.ring[:t.next]...)
	}
	return append(append([]string(nil), t.ring[t.next:]...), t.ring[:t.next]...)
}
