package stdio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// readSize is the read buffer: the default capacity of a Linux pipe, so one read empties it.
const readSize = 64 << 10

// aLongTimeAgo is a read deadline that has passed: setting it makes a pending read return
// os.ErrDeadlineExceeded without consuming any data (the poller checks the deadline before it
// calls read), which is how pause and stop interrupt the reading goroutine.
var aLongTimeAgo = time.Unix(1, 0)

// action is what the reading goroutine does after a read was interrupted by a deadline.
type action int

const (
	actRead action = iota // keep reading
	actStop               // stop now
)

// A forwarder owns the read side of one stream: a goroutine reads it and hands the bytes to a
// lineWriter. Reads happen only on that goroutine; pause, resume and stop steer it through
// the read deadline and a condition variable.
type forwarder struct {
	name string
	r    *os.File // non-blocking, registered with the runtime poller
	lw   *lineWriter

	mu       sync.Mutex
	cond     *sync.Cond
	paused   bool      // pause asked for
	parked   bool      // the goroutine is waiting for resume, not reading
	closing  bool      // stop asked for
	exited   bool      // the goroutine returned
	deadline time.Time // for closing: when to give up reading
	err      error     // first read or write error
	done     chan struct{}
}

func newForwarder(name string, r *os.File, dst io.Writer, tap func(string, string), t *tail) *forwarder {
	f := &forwarder{name: name, r: r, done: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	f.lw = newLineWriter(name, dst, tap, t)
	return f
}

func (f *forwarder) start() { go f.run() }

// run reads until EOF (pipes, when every writer closed), an error, or stop.
func (f *forwarder) run() {
	defer close(f.done)
	defer f.finish()
	buf := make([]byte, readSize)
	for {
		n, err := f.r.Read(buf)
		if n > 0 {
			f.lw.write(buf[:n])
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return
		case !errors.Is(err, os.ErrDeadlineExceeded):
			f.setErr(fmt.Errorf("read %s: %w", f.name, err))
			return
		}
		if f.await() == actStop {
			return
		}
	}
}

// await decides what to do after a read hit its deadline, parking while paused.
func (f *forwarder) await() action {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused && !f.closing {
		f.parked = true
		f.cond.Broadcast()
		for f.paused && !f.closing {
			f.cond.Wait()
		}
		f.parked = false
	}
	switch {
	case !f.closing:
		return actRead
	case time.Now().Before(f.deadline):
		return actRead // woken from a pause by stop: read on until EOF or the deadline
	}
	return actStop
}

// finish flushes a held-back partial line and tells waiters the goroutine is gone.
func (f *forwarder) finish() {
	f.lw.flush()
	f.mu.Lock()
	f.exited = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

// pause returns once the goroutine is parked (or gone), so that no read is in progress.
func (f *forwarder) pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing || f.exited {
		return
	}
	if err := f.r.SetReadDeadline(aLongTimeAgo); err != nil {
		f.err = errors.Join(f.err, fmt.Errorf("pause %s: %w", f.name, err))
		return
	}
	f.paused = true
	for !f.parked && !f.exited {
		f.cond.Wait()
	}
}

func (f *forwarder) resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.paused {
		return
	}
	f.paused = false
	if !f.closing {
		_ = f.r.SetReadDeadline(time.Time{}) // cannot fail: pause set one on this file
	}
	f.cond.Broadcast()
}

// stop asks the goroutine to forward what is left and return: it reads until EOF or the
// deadline.
func (f *forwarder) stop(deadline time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closing, f.paused, f.deadline = true, false, deadline
	_ = f.r.SetReadDeadline(deadline)
	f.cond.Broadcast()
}

// wait waits for the goroutine after stop, until the deadline, then closes the read side.
func (f *forwarder) wait(until time.Time) error {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	var stuck error
	select {
	case <-f.done:
	case <-t.C:
		stuck = fmt.Errorf("stop forwarding %s: still busy at the deadline (destination blocked?)", f.name)
	}
	closeErr := f.r.Close()
	if closeErr != nil {
		closeErr = fmt.Errorf("close %s read side: %w", f.name, closeErr)
	}
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if stuck != nil {
		// The goroutine is blocked in a write to the destination, holding
		// the line writer's lock: asking it for its error would block too.
		return errors.Join(stuck, err, closeErr)
	}
	return errors.Join(err, f.lw.error(), closeErr)
}

func (f *forwarder) setErr(err error) {
	f.mu.Lock()
	f.err = errors.Join(f.err, err)
	f.mu.Unlock()
}
