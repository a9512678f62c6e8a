package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"stasis/pidspace"
)

// realHere answers with this machine's PID space and a criu path that exists
// (or not) as the test says.
func realHere(criu string, criuErr error) Here {
	return Here{
		CRIU:          func(string) (string, error) { return criu, criuErr },
		PreservesPIDs: func(engine string) bool { return engine != "warp" },
		PIDHolder:     pidspace.Holder,
	}
}

// withPID rewrites the manifest with another JVM PID.
func withPID(t *testing.T, dir string, m *Manifest, pid int) {
	t.Helper()
	m.PID = pid
	if err := Write(dir, m); err != nil {
		t.Fatal(err)
	}
}

func check(r *Report, name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

func TestInspectRestorable(t *testing.T) {
	dir, m := writeImage(t)
	m.Java = "/bin/sh" // an executable that exists
	withPID(t, dir, m, freePID(t))
	r := Inspect(dir, realHere("/usr/bin/criu", nil))
	if !r.Restorable {
		t.Fatalf("not restorable: %+v", r.Checks)
	}
	for _, name := range []string{"manifest", "files", "java", "criu", "pid"} {
		if c := check(r, name); c == nil || !c.OK {
			t.Errorf("check %s: %+v", name, c)
		}
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"engine:", "criu", "command:", "java Main", "restorable here: yes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInspectNotRestorable(t *testing.T) {
	for _, tc := range []struct {
		name, check string
		setup       func(t *testing.T, dir string, m *Manifest) Here
	}{
		{"damaged file", "files", func(t *testing.T, dir string, m *Manifest) Here {
			os.Truncate(filepath.Join(dir, "pages-1.img"), 10)
			return realHere("/usr/bin/criu", nil)
		}},
		{"pid taken", "pid", func(t *testing.T, dir string, m *Manifest) Here {
			withPID(t, dir, m, os.Getpid())
			return realHere("/usr/bin/criu", nil)
		}},
		{"no criu", "criu", func(t *testing.T, dir string, m *Manifest) Here {
			return realHere("", errors.New("no criu found (set STASIS_CRIU)"))
		}},
		{"java gone", "java", func(t *testing.T, dir string, m *Manifest) Here {
			m.Java = filepath.Join(dir, "no-such-java")
			withPID(t, dir, m, freePID(t))
			return realHere("/usr/bin/criu", nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := writeImage(t)
			withPID(t, dir, m, freePID(t))
			here := tc.setup(t, dir, m)
			r := Inspect(dir, here)
			if r.Restorable {
				t.Fatalf("restorable despite %s: %+v", tc.name, r.Checks)
			}
			if c := check(r, tc.check); c == nil || c.OK {
				t.Fatalf("check %s did not fail: %+v", tc.check, r.Checks)
			}
			var out bytes.Buffer
			r.WriteText(&out)
			if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "restorable here: no") {
				t.Fatalf("text does not say so:\n%s", out.String())
			}
		})
	}
}

func TestInspectNoImage(t *testing.T) {
	r := Inspect(t.TempDir(), realHere("/usr/bin/criu", nil))
	if r.Restorable || !r.NoImage() || r.Manifest != nil {
		t.Fatalf("empty directory: %+v", r)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ManifestName), []byte("{"), 0o644)
	if r := Inspect(dir, Here{}); r.Restorable || r.NoImage() {
		t.Fatalf("a broken manifest is not the absence of one: %+v", r)
	}
}

func TestInspectWarpSkipsPIDAndCRIU(t *testing.T) {
	dir, m := writeImage(t)
	m.Engine = "warp"
	withPID(t, dir, m, os.Getpid()) // taken, but warp does not keep PIDs
	r := Inspect(dir, Here{PreservesPIDs: func(e string) bool { return e != "warp" }, PIDHolder: pidspace.Holder})
	if !r.Restorable || check(r, "pid") != nil {
		t.Fatalf("warp image: %+v", r.Checks)
	}
}

func TestReportJSONNames(t *testing.T) {
	dir, _ := writeImage(t)
	b, err := json.Marshal(Inspect(dir, Here{}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	for _, k := range []string{"dir", "manifest", "restorable", "checks"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}

// freePID is the PID of a process that has exited and been reaped: free
// unless the kernel reuses it at once, which takes a full wrap of pid_max.
func freePID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	return cmd.Process.Pid
}
