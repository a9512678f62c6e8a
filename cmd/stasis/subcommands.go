package main

import (
	"fmt"
	"io"

	"strconv"

	"stasis/attach"
	openj9attach "stasis/attach/openj9"
)

type subcommand func(args []string, environ map[string]string, stdout, stderr io.Writer) int

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
func cmdJCmd(args []string, _ map[string]string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if pid, err := strconv.Atoi(args[0]); err == nil && pid > 0 && openj9attach.IsOpenJ9(pid) {
			return openj9attach.Main(args, stdout, stderr)
		}
	}
	return attach.Main(args, stdout, stderr)
}

func cmdVersion(args []string, _ map[string]string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "stasis version: unexpected argument %q\n", args[0])
		return 2
	}
	fmt.Fprintf(stdout, "stasis %s (commit %s, %s)\n", version, commit, goVersion())
	return 0
}
