// Package stdio owns the JVM's standard file descriptors and the forwarding of its output.
//
// The JVM never gets a terminal: stdin is /dev/null (a tty in the dumped process tree makes CRIU
// restore fail with "Can't set tty params"), and stdout and stderr are plain pipes, for every
// engine. A restore hands new pipes in their place: CRIU reconnects them with --inherit-fd,
// found by the old pipes' inodes (PipeInodes), and CRaC's restoring java process passes its own
// stdio on. Nothing of it lives in the image directory, so any number of restores may share one,
// read-only. Everything the JVM writes is forwarded line by line and unchanged to stasis's own
// stdout and stderr, so `docker logs` shows it, and nothing grows on disk.
//
// Every descriptor is opened O_CLOEXEC, so no descriptor of stasis leaks into the JVM.
//
// This package must not import any other stasis package: the supervisor and the engines use it,
// not the other way round.
package stdio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-multierror"
)

// Options says where a Set forwards the child's output.
type Options struct {
	Stdout, Stderr io.Writer // where output goes (stasis's os.Stdout / os.Stderr)
	// Tap, if set, is called for every complete line, with stream "stdout" or "stderr" and the
	// line without its newline (a line longer than MaxLine is cut to its first MaxLine bytes for
	// the Tap only). It runs on the forwarding goroutine: keep it quick.
	Tap       func(stream string, line string)
	TailLines int // keep the last N lines of both streams for error messages; 0 means 20, <0 none
}

// A Set is the stdio of one child: what to hand to exec.Cmd (all *os.File, so exec.Cmd starts
// no copying goroutines and nobody needs exec.Cmd.Wait), plus the goroutines that forward the
// child's output to stasis's own stdout and stderr.
type Set struct {
	stdin, stdout, stderr *os.File // the child's ends; nil once closed
	out, err              *forwarder
	tail                  *tail
	inodes                [2]uint64 // the inodes of stdout's and stderr's pipe
}

// Pipes returns a Set whose stdin is /dev/null and whose stdout and stderr are pipes.
func Pipes(opt Options) (*Set, error) {
	s, err := newSet(opt)
	if err != nil {
		return nil, fmt.Errorf("create stdio pipes: %w", err)
	}
	return s, nil
}

// newSet opens /dev/null and the two pipes, and starts forwarding.
func newSet(opt Options) (*Set, error) {
	if opt.Stdout == nil || opt.Stderr == nil {
		return nil, errors.New("options need both Stdout and Stderr writers")
	}
	n := opt.TailLines
	if n == 0 {
		n = 20
	}
	s := &Set{tail: newTail(n)}
	stdin, err := os.Open(os.DevNull) // os.Open sets O_CLOEXEC
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	s.stdin = stdin
	if s.stdout, s.out, s.inodes[0], err = s.newStream("stdout", opt.Stdout, opt.Tap); err != nil {
		s.closeAll()
		return nil, err
	}
	if s.stderr, s.err, s.inodes[1], err = s.newStream("stderr", opt.Stderr, opt.Tap); err != nil {
		s.closeAll()
		return nil, err
	}
	s.out.start()
	s.err.start()
	return s, nil
}

// newStream makes one pipe and its forwarder, not yet started.
func (s *Set) newStream(name string, dst io.Writer, tap func(string, string)) (*os.File, *forwarder, uint64, error) {
	r, w, err := newPipe(name)
	if err != nil {
		return nil, nil, 0, err
	}
	ino, err := inode(r)
	if err != nil {
		r.Close()
		w.Close()
		return nil, nil, 0, err
	}
	return w, newForwarder(name, r, dst, tap, s.tail), ino, nil
}

// PipeInodes are the inode numbers of the stdout and stderr pipes: the names CRIU gives them in
// an image ("pipe:[INODE]"), by which `criu restore --inherit-fd` finds the pipes a restore
// connects in their place. They stay valid after the child's ends are closed.
func (s *Set) PipeInodes() (stdout, stderr uint64) { return s.inodes[0], s.inodes[1] }

// Stdin is the child's stdin (/dev/null), for exec.Cmd.Stdin.
func (s *Set) Stdin() *os.File { return s.stdin }

// Stdout is the write end the child gets as stdout, for exec.Cmd.Stdout.
func (s *Set) Stdout() *os.File { return s.stdout }

// Stderr is the write end the child gets as stderr, for exec.Cmd.Stderr.
func (s *Set) Stderr() *os.File { return s.stderr }

// CloseChildEnds closes stasis's copies of the child's ends once the child has started (or, at a
// restore, once criu has handed them on), so that EOF arrives when the child exits.
func (s *Set) CloseChildEnds() error {
	var errs *multierror.Error
	for _, f := range []**os.File{&s.stdin, &s.stdout, &s.stderr} {
		if *f == nil {
			continue
		}
		if err := (*f).Close(); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("close child end %s: %w", (*f).Name(), err))
		}
		*f = nil
	}
	return errs.ErrorOrNil()
}

// Tail returns the last lines the child wrote (both streams, in the order they were read).
func (s *Set) Tail() []string { return s.tail.lines() }

// Pause stops reading the child's output. When it returns no read is in progress and none will
// start until Resume, so what sits in a pipe stays there.
//
// Around `criu dump`: Pause before it, and Resume after it whether it succeeded or not. CRIU
// saves no data of a pipe that the dumped tree holds only for writing (checkpoint-restore/criu
// criu/pipes.c, dump_one_pipe_data()), so what sits in the pipe belongs to the checkpoint run and
// is printed by it, once.
func (s *Set) Pause() {
	s.out.pause()
	s.err.pause()
}

// Resume starts reading again after Pause.
func (s *Set) Resume() {
	s.out.resume()
	s.err.resume()
}

// Close, after the child exited, forwards what is left and stops the forwarding goroutines: it
// reads until EOF or drainTimeout (a grandchild may still hold the pipe). It also closes the
// child's ends if CloseChildEnds was not called.
func (s *Set) Close(drainTimeout time.Duration) error {
	errs := multierror.Append(nil, s.CloseChildEnds())
	deadline := time.Now().Add(drainTimeout)
	s.out.stop(deadline)
	s.err.stop(deadline)
	// One deadline for both: a blocked destination costs the grace once. The
	// grace lets a write in progress to a slow destination finish.
	until := deadline.Add(min(time.Second, drainTimeout))
	for _, f := range []*forwarder{s.out, s.err} {
		if err := f.wait(until); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	return errs.ErrorOrNil()
}

// CloseInheritedOnExec marks every descriptor above 2 that this process holds close-on-exec.
// Call it once at startup, before the first child starts: descriptors stasis inherited are not
// O_CLOEXEC, and without it they would leak into the JVM (and into its checkpoint image).
func CloseInheritedOnExec() error { return closeInheritedOnExec() }

// closeAll releases what newSet opened before it failed.
func (s *Set) closeAll() {
	_ = s.CloseChildEnds()
	for _, f := range []*forwarder{s.out, s.err} {
		if f != nil {
			_ = f.r.Close()
		}
	}
}
