// Package fakejdktest lays out fake JDK homes around the test double in
// testdata/fakejdk (a fake `java` that behaves like Azul's CRaC and Warp
// engines and IBM Semeru's OpenJ9, with the real CRIU), and runs commands in
// fresh PID namespaces for tests. It is for tests only: stasis's packages
// must not import it outside _test.go files, and it imports nothing of
// stasis.
package fakejdktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Flavours Layout knows. CRaC is a current openjdk/crac build (the engine a
// library, lib/criuhelper, CRIU found on PATH); CRaCLegacy an older one (the
// executable lib/criuengine and its own lib/criu); CRaCStatic a static JDK
// (no lib/server/libjvm.so); WarpDefault a current build whose default
// engine is warp. Warp is a CRaC home used with -XX:CRaCEngine=warp.
const (
	CRaC        = "crac"
	CRaCLegacy  = "crac-legacy"
	CRaCStatic  = "crac-static"
	WarpDefault = "warp-default"
	Warp        = "warp"
	OpenJ9      = "openj9"
	HotSpot     = "hotspot"
)

// criuPrefix is where scripts/install-criu puts its criu wrapper.
const criuPrefix = "/usr/local/lib/stasis-criu"

// Layout builds the fake java into a new JDK home of the given flavour and
// returns the home. A current CRaC (or Warp) home has lib/libcriuengine.so
// and lib/criuhelper (stasis's engine=auto looks for them),
// lib/server/libjvm.so and an Azul release file, and finds CRIU on PATH
// (CRIUDir) or by -XX:CRaCEngineOptions=criu_location; a static one has no
// libjvm.so and no libcriuengine.so; a legacy one has the executable
// lib/criuengine and lib/criu linked to the CRIU found here. An OpenJ9 home
// has lib/default/libj9vm29.so and criubin/criu for PATH (CRIUPath); a
// HotSpot home is plain Debian-like.
func Layout(t testing.TB, flavour string) (home string) {
	t.Helper()
	home = t.TempDir()
	if err := layout(home, flavour); err != nil {
		t.Fatalf("lay out %s home in %s: %v", flavour, home, err)
	}
	java := filepath.Join(home, "bin", "java")
	if err := Build(java); err != nil {
		t.Fatalf("build fake java: %v", err)
	}
	// CRaC's helper executables are the same binary under their names.
	os.MkdirAll(filepath.Join(home, "lib"), 0o755)
	for _, helper := range helpers[flavour] {
		if err := os.Link(java, filepath.Join(home, "lib", helper)); err != nil {
			t.Fatalf("lay out lib/%s: %v", helper, err)
		}
	}
	return home
}

var helpers = map[string][]string{CRaC: {"criuhelper"}, Warp: {"criuhelper"}, WarpDefault: {"criuhelper"},
	CRaCStatic: {"criuhelper"}, CRaCLegacy: {"criuengine"}}

// CRIUDir returns a directory holding only a `criu` that is FindCRIU's: put
// it on PATH, where current CRaC builds look for CRIU.
func CRIUDir(t testing.TB) string {
	t.Helper()
	criu, err := FindCRIU()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(criu, filepath.Join(dir, "criu")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func layout(home, flavour string) error {
	files := map[string]string{}
	release := "JAVA_VERSION=\"17.0.13\"\n"
	switch flavour {
	case CRaC, Warp, WarpDefault:
		files["lib/libcriuengine.so"] = page
		files["lib/server/libjvm.so"] = page
		release = "IMPLEMENTOR=\"Azul Systems, Inc.\"\nIMPLEMENTOR_VERSION=\"Zulu17.54+21-CRaC-CA\"\n" + release
		if flavour == WarpDefault {
			files["fakejdk-build"] = "default_engine=warp\n"
		}
	case CRaCStatic:
		release = "IMPLEMENTOR=\"Azul Systems, Inc.\"\n" + release
	case CRaCLegacy:
		files["lib/server/libjvm.so"] = page
		release = "IMPLEMENTOR=\"Azul Systems, Inc.\"\nIMPLEMENTOR_VERSION=\"Zulu17.44+15-CRaC-CA\"\n" + release
	case OpenJ9:
		// Not empty: the double maps the library so /proc/PID/maps shows
		// libj9vm29.so, and a file mapping needs a page behind it.
		files["lib/default/libj9vm29.so"] = page
		release = "IMPLEMENTOR=\"IBM Corporation\"\nJVM_VARIANT=\"Openj9\"\n" + release
	case HotSpot:
		files["lib/server/libjvm.so"] = page
		release = "IMPLEMENTOR=\"Debian\"\n" + release
	default:
		return fmt.Errorf("unknown flavour %q (want crac, warp, openj9 or hotspot)", flavour)
	}
	files["release"] = release
	for name, data := range files {
		p := filepath.Join(home, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			return err
		}
	}
	// Legacy CRaC builds ship their CRIU as lib/criu; OpenJ9's libcriu and
	// current CRaC builds find it on PATH (CRIUPath and CRIUDir put a
	// directory holding it first).
	if flavour == CRaCLegacy || flavour == OpenJ9 {
		criu, err := FindCRIU()
		if err != nil {
			return nil
		}
		if flavour == OpenJ9 {
			if err := os.MkdirAll(filepath.Join(home, "criubin"), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(criu, filepath.Join(home, "criubin", "criu")); err != nil {
				return err
			}
		}
		return os.Symlink(criu, filepath.Join(home, "lib", "criu"))
	}
	return nil
}

// CRIUPath is a PATH= environment entry that finds the CRIU of an OpenJ9
// home first, as OpenJ9 looks for `criu` on PATH.
func CRIUPath(home string) string {
	return "PATH=" + filepath.Join(home, "criubin") + ":" + os.Getenv("PATH")
}

var page = strings.Repeat("\x00", 4096)

// Build compiles testdata/fakejdk into out (static, so no loader or libc
// state differs between dump and restore).
func Build(out string) error { return build(out, "./testdata/fakejdk") }

// nsinitPath is where StartNS builds nsinit, its PID 1: beside
// home (in the same test's temporary directory), not in it, since it is no
// part of a JDK.
func nsinitPath(home string) string { return home + ".nsinit" }

func build(out, pkg string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FindCRIU returns a CRIU 4 or newer: STASIS_CRIU, then scripts/install-criu's
// wrapper, then criu on PATH.
func FindCRIU() (string, error) {
	candidates := []string{os.Getenv("STASIS_CRIU"), filepath.Join(criuPrefix, "criu")}
	if p, err := exec.LookPath("criu"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		out, err := exec.Command(c, "--version").Output()
		if err == nil && isCRIU4(string(out)) {
			return c, nil
		}
	}
	return "", errors.New("no CRIU 4 found (run scripts/install-criu or set STASIS_CRIU)")
}

func isCRIU4(version string) bool {
	v, ok := strings.CutPrefix(strings.TrimSpace(version), "Version: ")
	return ok && v != "" && v[0] >= '4' && v[0] <= '9'
}
