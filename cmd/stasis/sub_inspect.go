package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"stasis/supervisor/image"
)

// cmdInspect is `stasis inspect [DIR] [--json] [-- CMD...]`: the image's
// manifest for people (or image.Report as JSON), and whether a start with
// these settings can restore it here, by the restore's own checks
// (supervisor.CheckRestorable). DIR defaults to STASIS_IMAGE_DIR; CMD is
// the container's command, compared with the image's (without it, only the
// engine is). It exits 0 when the image is restorable here, 1 when it is
// not or there is none.
func cmdInspect(args []string, environ map[string]string, stdout, stderr io.Writer) error {
	args, command := cutCommand(args)
	args, asJSON := takeJSONFlag(args)
	cfg, rest, err := subConfig("inspect", args, environ, stdout, nil)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("unexpected argument %q", rest[1])
	}
	dir := cfg.ImageDir
	if len(rest) == 1 {
		dir = rest[0]
	}
	r := inspect(cfg, dir, command, environ)
	return answer(stdout, asJSON, r, r.Restorable)
}

// answer prints a report as JSON, or for people, and makes its "no"
// errNotOK (exit 1).
func answer(stdout io.Writer, asJSON bool, r interface{ WriteText(io.Writer) error }, ok bool) error {
	if asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		_ = r.WriteText(stdout)
	}
	if !ok {
		return errNotOK
	}
	return nil
}

// takeJSONFlag removes --json wherever it stands: `stasis inspect DIR
// --json` reads naturally, and the flag package stops at DIR.
func takeJSONFlag(args []string) ([]string, bool) {
	var out []string
	found := false
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if a == "--json" || a == "-json" || a == "--json=true" {
			found = true
			continue
		}
		out = append(out, a)
	}
	return out, found
}

// cutCommand splits off the command after --, which the flag package would
// leave among DIR's arguments.
func cutCommand(args []string) ([]string, []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i:i], args[i+1:]
		}
	}
	return args, nil
}

// inspect is the image in dir as a start with cfg and command would find
// it: the restore's checks, each with its verdict.
func inspect(cfg Config, dir string, command []string, environ map[string]string) *image.Report {
	cfg.ImageDir = dir
	f, _ := foresee(cfg, command, command, environ) // the image's checks say what a bad setting changes
	r := image.NewReport(dir, f.Manifest, f.ImageErr, f.Restore.Checks)
	r.Plan = string(f.Decision.Action) + " (" + strings.Join(f.Decision.Reasons, "; ") + ")"
	return r
}
