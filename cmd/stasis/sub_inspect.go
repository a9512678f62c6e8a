package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"stasis/pidspace"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// cmdInspect is `stasis inspect [DIR] [--json]`: the image's manifest for
// people (or image.Report as JSON), and whether it can be restored here.
// DIR defaults to STASIS_IMAGE_DIR. It exits 0 when the image is
// restorable here, 1 when it is not or there is none.
func cmdInspect(args []string, environ map[string]string, stdout, stderr io.Writer) error {
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
	r := image.Inspect(dir, hereFor(cfg, dir, environ))
	if asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		_ = r.WriteText(stdout)
	}
	if !r.Restorable {
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

// hereFor answers the image's questions about this environment with the
// same rules the restore applies (supervisor's checkImage).
func hereFor(cfg Config, dir string, environ map[string]string) image.Here {
	return image.Here{
		CRIU: func(name string) (string, error) {
			f, _ := engine.FactsOf(name)
			switch f.CRIU {
			case engine.CRIUNone:
				return "", nil // e.g. Warp needs no criu
			case engine.CRIUByJVM:
				return engine.FindCRaCCRIU(cfg.Command, jdkHomeOfImage(dir), func(k string) string { return environ[k] })
			}
			return engine.FindCRIU(cfg.CRIU, environ["JAVA_HOME"], jdkHomeOfImage(dir))
		},
		PreservesPIDs: func(name string) bool {
			f, _ := engine.FactsOf(name)
			return f.PreservesPIDs
		},
		PIDHolder: pidspace.Holder,
		CPUBound: func(name string) bool {
			f, _ := engine.FactsOf(name)
			return f.CPUBound
		},
		HostCPU: image.HostCPU,
	}
}

// jdkHomeOfImage is the JDK home of the image's java, where CRaC JDKs ship
// their criu.
func jdkHomeOfImage(dir string) string {
	m, err := image.Read(dir)
	if err != nil || m.Java == "" {
		return ""
	}
	real, err := filepath.EvalSymlinks(m.Java)
	if err != nil {
		return ""
	}
	return filepath.Dir(filepath.Dir(real))
}
