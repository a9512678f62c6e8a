package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"stasis/attach"
	openj9attach "stasis/attach/openj9"
)

// A subcommand prints its answer and returns why it failed: run says that
// once, after "stasis NAME: ", and exitCode picks the status.
type subcommand func(args []string, environ map[string]string, stdout, stderr io.Writer) error

// subcommands are recognised only as the first argument; "stasis -- version"
// runs a command named version.
var subcommands = map[string]subcommand{
	"version":     cmdVersion,
	"healthcheck": cmdHealthcheck,
	"status":      cmdStatus,
	"checkpoint":  cmdCheckpoint,
	"inspect":     cmdInspect,
	"doctor":      cmdDoctor,
	"jcmd":        cmdJCmd,
}

// cmdJCmd speaks HotSpot's attach protocol, or OpenJ9's to a JVM that
// advertises itself in OpenJ9's attach directory.
func cmdJCmd(args []string, _ map[string]string, stdout, stderr io.Writer) error {
	jcmd := attach.Main
	if len(args) > 0 {
		if pid, err := strconv.Atoi(args[0]); err == nil && pid > 0 && openj9attach.IsOpenJ9(pid) {
			jcmd = openj9attach.Main
		}
	}
	err := jcmd(args, stdout)
	var refused *attach.Refusal
	if errors.As(err, &refused) {
		// The JVM's own error is its answer, alone on stderr as jcmd prints it.
		fmt.Fprintln(stderr, refused)
		return errNotOK
	}
	return err
}

func cmdVersion(args []string, _ map[string]string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	fmt.Fprintf(stdout, "stasis %s (commit %s, %s)\n", version, commit, goVersion())
	return nil
}
