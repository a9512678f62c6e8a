// Package stdio owns the JVM's standard file descriptors and the forwarding of its output.
//
// The JVM never gets a terminal: stdin is /dev/null (a tty in the dumped process tree makes CRIU
// restore fail with "Can't set tty params"), and stdout and stderr are either plain pipes (CRaC,
// whose restoring java process hands its own stdio to the restored JVM) or named FIFOs in the
// image directory (CRIU restores, which reconnect a FIFO by path; a regular log file would fail
// with "has bad size" once it grew). Everything the JVM writes is forwarded line by line and
// unchanged to stasis's own stdout and stderr, so `docker logs` shows it, and nothing grows on
// disk.
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
	"path/filepath"
	"time"

	"github.com/hashicorp/go-multierror"
)

// File names of the FIFOs that FIFOs creates in the image directory. CRIU records them by path,
// so they must keep these names between the checkpoint run and every restore.
const (
	StdoutFIFO = "stdout.fifo"
	StderrFIFO = "stderr.fifo"
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
	fifo                  bool
	inodes                [2]uint64 // pipes: the inodes of stdout's and stderr's pipe
}

// Pipes returns a Set whose stdin is /dev/null and whose stdout and stderr are pipes.
func Pipes(opt Options) (*Set, error) {
	s, err := newSet(opt, false, func(name string) (r, w *os.File, err error) {
		return newPipe(name)
	})
	if err != nil {
		return nil, fmt.Errorf("create stdio pipes: %w", err)
	}
	return s, nil
}

// FIFOs returns a Set whose stdin is /dev/null and whose stdout and stderr are the named FIFOs
// DIR/stdout.fifo and DIR/stderr.fifo, created mode 0600 if missing. The read sides are opened
// first, read-write, so that opening the child's ends never blocks, the writer never sees EPIPE
// while stasis briefly does not read, and EOF never comes by itself. At restore, call FIFOs
// before `criu restore`, so a reader exists when CRIU reopens the writers.
func FIFOs(dir string, opt Options) (*Set, error) {
	s, err := newSet(opt, true, func(name string) (r, w *os.File, err error) {
		return openFIFO(filepath.Join(dir, name+".fifo"))
	})
	if err != nil {
		return nil, fmt.Errorf("open stdio fifos in %s: %w", dir, err)
	}
	return s, nil
}

// newSet opens /dev/null and the two output channels made by open, and starts forwarding.
func newSet(opt Options, fifo bool, open func(name string) (r, w *os.File, err error)) (*Set, error) {
	if opt.Stdout == nil || opt.Stderr == nil {
		return nil, errors.New("options need both Stdout and Stderr writers")
	}
	n := opt.TailLines
	if n == 0 {
		n = 20
	}
	s := &Set{tail: newTail(n), fifo: fifo}
	stdin, err := os.Open(os.DevNull) // os.Open sets O_CLOEXEC
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	s.stdin = stdin
	outR, outW, err := open("stdout")
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.stdout, s.out = outW, newForwarder("stdout", outR, opt.Stdout, opt.Tap, s.tail, fifo)
	if !fifo {
		if s.inodes[0], err = inode(outR); err != nil {
			s.closeAll()
			return nil, err
		}
	}
	errR, errW, err := open("stderr")
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.stderr, s.err = errW, newForwarder("stderr", errR, opt.Stderr, opt.Tap, s.tail, fifo)
	if !fifo {
		if s.inodes[1], err = inode(errR); err != nil {
			s.closeAll()
			return nil, err
		}
	}
	s.out.start()
	s.err.start()
	return s, nil
}

// PipeInodes are the inode numbers of the stdout and stderr pipes (0 for FIFO sets): the names
// CRIU gives them in an image ("pipe:[INODE]"), by which `criu restore --inherit-fd` finds the
// pipes a restore connects in their place. They stay valid after the child's ends are closed.
func (s *Set) PipeInodes() (stdout, stderr uint64) { return s.inodes[0], s.inodes[1] }

// Stdin is the child's stdin (/dev/null), for exec.Cmd.Stdin.
func (s *Set) Stdin() *os.File { return s.stdin }

// Stdout is the write end the child gets as stdout, for exec.Cmd.Stdout.
func (s *Set) Stdout() *os.File { return s.stdout }

// Stderr is the write end the child gets as stderr, for exec.Cmd.Stderr.
func (s *Set) Stderr() *os.File { return s.stderr }

// CloseChildEnds closes stasis's copies of the child's ends once the child has started: for
// pipes that lets EOF arrive when the child exits; for FIFOs stasis keeps only its read sides.
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
// start until Resume, so what sits in a FIFO stays there.
//
// Around `criu dump`: Pause before it, and Resume after it whether it succeeded or not. Measured
// with criu 4.2.1: CRIU does not save the data sitting in a FIFO that the dumped tree holds only
// for writing (no fifo-data.img is written), so that data belongs to the checkpoint run and
// must be printed by it; Discarding it would lose those lines.
func (s *Set) Pause() {
	s.out.pause()
	s.err.pause()
}

// Resume starts reading again after Pause.
func (s *Set) Resume() {
	s.out.resume()
	s.err.resume()
}

// Discard drops exactly the bytes sitting in the FIFOs when it is called, without printing them.
// It is only right if a checkpoint saved those bytes and the restore run will print them, which
// CRIU 4.2 does not do for the JVM's write-only FIFO ends (see Pause): do not call it after a
// dump. Output read before a Pause (a partial line held back) is not dropped. Only for FIFO sets.
func (s *Set) Discard() error {
	if !s.fifo {
		return errors.New("discard stdio: only FIFO sets hold data for a checkpoint")
	}
	var errs *multierror.Error
	for _, f := range []*forwarder{s.out, s.err} {
		if err := f.discard(); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	return errs.ErrorOrNil()
}

// Close, after the child exited, forwards what is left and stops the forwarding goroutines. For
// pipes it reads until EOF or drainTimeout (a grandchild may still hold the pipe); for FIFOs it
// reads until the FIFO is empty, at most drainTimeout. It also closes the child's ends if
// CloseChildEnds was not called.
func (s *Set) Close(drainTimeout time.Duration) error {
	errs := multierror.Append(nil, s.CloseChildEnds())
	deadline := time.Now().Add(drainTimeout)
	s.out.stop(deadline)
	s.err.stop(deadline)
	for _, f := range []*forwarder{s.out, s.err} {
		if err := f.wait(drainTimeout + time.Second); err != nil {
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
