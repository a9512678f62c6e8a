package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// configure reads the environment, then the flags (a flag wins), and
// validates the result. The command starts after "--" or at the first
// argument that is not a flag.
func configure(args []string, environ map[string]string, stdout io.Writer) (Config, error) {
	s, err := loadEnv(environ)
	if err != nil {
		return Config{}, err
	}
	fs := flag.NewFlagSet("stasis", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, f := range s.fields() {
		fs.StringVar(f.ptr, f.Flag, *f.ptr, f.Help)
	}
	if err := missingValue(fs, args); err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, &s)
			return Config{}, errHelpShown
		}
		return Config{}, &UsageError{Problem: flagProblem(err)}
	}
	return validate(s, fs.Args())
}

// missingValue finds a flag that needs a value but is followed by "--" or
// by nothing: the flag package would take "--" as the value (`--mode --
// java …` became STASIS_MODE="--") and the command would lose its marker.
func missingValue(fs *flag.FlagSet, args []string) error {
	for i, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return nil
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // the flag package reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 == len(args) || args[i+1] == "--" {
			return usagef("flag %s needs a value (see stasis --help)", a)
		}
		// The next argument is this flag's value, whatever it looks like.
		return missingValue(fs, args[i+2:])
	}
	return nil
}

// flagProblem shortens the flag package's messages to one line.
func flagProblem(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg + " (see stasis --help)"
}

func printHelp(w io.Writer, s *settings) {
	fmt.Fprint(w, `stasis: PID 1 for Java containers, with checkpoint and restore.

Usage:
  stasis [flags] -- CMD [ARGS...]     run CMD as PID 1 (checkpoint or restore it per STASIS_MODE)
  stasis healthcheck                  exit 0 when the JVM is up and healthy
  stasis status [--json]              the phase, the JVM's PID, how it started
  stasis checkpoint                   the manual checkpoint trigger
  stasis jcmd PID COMMAND [ARGS...]   run a diagnostic command in a HotSpot or OpenJ9 JVM (no jcmd needed)
  stasis inspect [DIR] [-- CMD...]    the image's manifest, and whether a start of CMD can restore it here
  stasis doctor [-- CMD...]           what this environment lacks for the configured mode
  stasis version                      version, commit and Go version

Settings (environment variable, or the flag; a flag wins):
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tFLAG\tDEFAULT\tMEANING")
	for _, f := range s.fields() {
		d := f.Default
		if d == "" {
			d = "-"
		}
		fmt.Fprintf(tw, "  %s\t--%s\t%s\t%s\n", f.Env, f.Flag, d, f.Help)
	}
	tw.Flush()
	fmt.Fprint(w, `
Exit codes: the command's own status (128+N when killed by signal N; 143 or 130 when SIGTERM or
SIGINT came during a restore, before it ran); 0 a checkpoint run that succeeded; 2 bad
configuration; 3 checkpoint failed; 4 restore failed and STASIS_ON_RESTORE_FAILURE=fail;
126 command not executable; 127 command not found.
`)
}
