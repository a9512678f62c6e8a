package supervisor

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"stasis/reaper"
)

// ExitError is the main child's end: stasis exits with its Code.
type ExitError struct {
	Name   string
	Status unix.WaitStatus
}

func (e *ExitError) Error() string { return e.Name + " " + reaper.Describe(e.Status) }

// Code is the shell's convention: the exit code, or 128+N for signal N.
func (e *ExitError) Code() int { return reaper.ExitCode(e.Status) }

// StartError says the command could not be started: Code is 127 when it was
// not found and 126 when it exists but cannot be executed, as in the shell.
type StartError struct {
	Argv0 string
	Err   error
}

func (e *StartError) Error() string {
	if e.Code() == 127 {
		return fmt.Sprintf("%s: command not found", e.Argv0)
	}
	cause := errors.Unwrap(e.Err) // *exec.Error and *fs.PathError name argv0 already
	if cause == nil {
		cause = e.Err
	}
	return fmt.Sprintf("%s: cannot execute: %v", e.Argv0, cause)
}

func (e *StartError) Unwrap() error { return e.Err }

func (e *StartError) Code() int {
	if errors.Is(e.Err, exec.ErrNotFound) || errors.Is(e.Err, syscall.ENOENT) {
		return 127
	}
	return 126
}
