package engine

import (
	"strings"
	"sync"
	"time"
)

// Output keeps the JVM's lines that an engine judges a checkpoint or a
// restore by: the JVM's own messages about its engine, which CRaC writes
// through unified logging (stdout by default) and Warp prints itself
// (docs/runtimes.md). Feed it every line; it keeps only those that carry a
// marker, so a chatty application cannot push them out.
type Output struct {
	mu    sync.Mutex
	lines []string
	seen  int // lines fed, kept or not
}

// outputMarkers are the phrases of the runtimes' own messages.
var outputMarkers = []string{
	"CRaC engine failed",           // crac.cpp checkpoint_restore: the engine failed, the JVM runs on
	"Restore cannot continue",      // crac.cpp VM_Crac::doit: the JVM exits 1
	"criuengine",                   // the engine's own messages (LOG prefix)
	"Cannot find CRIU",             // criuengine::get_criu
	"warp: ",                       // Warp's success and failure lines
	"missing features of this CPU", // CRaC's CPU check at restore
}

// Feed records line when it carries a marker. It is safe for concurrent use.
func (o *Output) Feed(line string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.seen++
	o.mu.Unlock()
	for _, m := range outputMarkers {
		if strings.Contains(line, m) {
			o.mu.Lock()
			if len(o.lines) < 64 {
				o.lines = append(o.lines, line)
			}
			o.mu.Unlock()
			return
		}
	}
}

// Find returns the first kept line containing s, or "".
func (o *Output) Find(s string) string {
	if o == nil {
		return ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// All returns the kept lines, joined, for error messages.
func (o *Output) All() string {
	if o == nil {
		return ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

// settle waits until no line has come for quiet, at most max: a JVM that
// just exited may still have lines in the pipe its forwarder reads.
func (o *Output) settle(quiet, max time.Duration) {
	if o == nil {
		return
	}
	count := func() int { o.mu.Lock(); defer o.mu.Unlock(); return o.seen }
	deadline := time.Now().Add(max)
	last, since := count(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet {
		time.Sleep(10 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
}
