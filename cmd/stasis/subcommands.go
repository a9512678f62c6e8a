package main

import (
	"fmt"
	"io"

	"stasis/triggers/attach"
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
	"jcmd": func(args []string, _ map[string]string, stdout, stderr io.Writer) int {
		return attach.Main(args, stdout, stderr)
	},
}

func cmdVersion(args []string, _ map[string]string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "stasis version: unexpected argument %q\n", args[0])
		return 2
	}
	fmt.Fprintf(stdout, "stasis %s (commit %s, %s)\n", version, commit, goVersion())
	return 0
}
