package main

import (
	"errors"
	"fmt"
	"io"

	"stasis/attach"
	"stasis/supervisor"
)

// UsageError is a bad argument or flag of stasis or a subcommand: one line,
// exit 2, nothing done. A bad setting is a *ConfigError.
type UsageError struct{ Problem string }

func (e *UsageError) Error() string { return e.Problem }

func usagef(format string, a ...any) error {
	return &UsageError{Problem: fmt.Sprintf(format, a...)}
}

var (
	// errHelpShown: the usage was asked for and printed; exit 0.
	errHelpShown = errors.New("help shown")
	// errNotOK is a subcommand's "no", printed already as its answer: the
	// image is not restorable here, the doctor found a problem, the JVM is
	// unhealthy or refused the command. Exit 1, nothing more to say.
	errNotOK = errors.New("not OK")
)

// exitCode maps an outcome to stasis's exit status, as PRODUCT.md lists
// them, and says why in one line ("" when the outcome speaks for itself).
// It is the one place that picks a number.
func exitCode(err error) (code int, why string) {
	var (
		exit  *supervisor.ExitError
		start *supervisor.StartError
		ckpt  *supervisor.CheckpointError
		rest  *supervisor.RestoreError
		conf  *ConfigError
		usage *UsageError
		jcmd  *attach.UsageError
	)
	// A failed checkpoint or restore may wrap a StartError of criu or of the
	// warm-up command: their codes (3, 4) come first; 126 and 127 are for the
	// main command itself.
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0, ""
	case errors.Is(err, errNotOK):
		return 1, ""
	case errors.As(err, &ckpt):
		return 3, ckpt.Error()
	case errors.As(err, &rest):
		return 4, rest.Error() + " (STASIS_ON_RESTORE_FAILURE=fail)"
	case errors.As(err, &exit):
		return exit.Code(), "" // the JVM's own status, logged as it exited
	case errors.As(err, &start):
		return start.Code(), start.Error()
	case errors.As(err, &conf), errors.As(err, &usage), errors.As(err, &jcmd):
		return 2, err.Error()
	}
	return 1, err.Error()
}

// tell says why err ends stasis, as one line after who ("stasis", "stasis
// status"), and returns err: for what ends it before the logger exists.
func tell(w io.Writer, who string, err error) error {
	if _, why := exitCode(err); why != "" {
		fmt.Fprintf(w, "%s: %s\n", who, why)
	}
	return err
}
