package supervisor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

var testCommand = []string{"java", "-cp", "/app", "Main"}

// testImage writes a small image made by the named engine for testCommand,
// its JVM's PID free here, with the environment environ.
func testImage(t *testing.T, eng string, environ map[string]string) (string, *image.Manifest) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"pages-1.img": strings.Repeat("x", 10000), "core-1001.img": "core"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, total, err := image.Scan(dir, image.Names{"pages-%u.img", "core-%u.img"})
	if err != nil {
		t.Fatal(err)
	}
	salt, hashes, err := image.HashEnv(environ)
	if err != nil {
		t.Fatal(err)
	}
	m := &image.Manifest{Format: image.Format, Engine: eng, Command: testCommand, PID: freePID(t), Java: "/bin/sh",
		Created: time.Now(), ImageBytes: total, Files: files, Env: hashes, EnvSalt: salt}
	rewrite(t, dir, m)
	return dir, m
}

func rewrite(t *testing.T, dir string, m *image.Manifest) {
	t.Helper()
	if err := image.Write(dir, m); err != nil {
		t.Fatal(err)
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

// input is what a start with the engine setting eng (or auto) asks of the
// image in dir.
func input(t *testing.T, dir, eng string) RestoreInput {
	t.Helper()
	m, err := image.Read(dir)
	in := RestoreInput{Dir: dir, Manifest: m, ReadErr: err, Command: testCommand, CRIU: "/usr/sbin/criu",
		Environ: map[string]string{"REGION": "eu"}}
	if eng == engine.Auto {
		in.FromImage = true
	} else {
		in.Engine = engine.New(eng)
	}
	return in
}

func names(cs []image.Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func failed(r *Restorability) string {
	for _, c := range r.Checks {
		if !c.OK {
			return c.Name
		}
	}
	return ""
}

func TestCheckRestorable(t *testing.T) {
	env := map[string]string{"REGION": "eu"}
	for _, tc := range []struct {
		name    string
		engine  string // the setting
		image   string // the engine that made it
		edit    func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput)
		fail    string // the first check that fails, "" for none
		errHas  string
		checked []string // with All
	}{
		{"warp image, everything matches", "warp", "warp", nil, "", "",
			[]string{CheckManifest, CheckMatch, CheckEnvironment, CheckJava, CheckFiles, CheckCapabilities}},
		{"auto takes the image's engine", engine.Auto, "warp", nil, "", "", nil},
		{"no image", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			os.Remove(filepath.Join(dir, image.ManifestName))
			in.Manifest, in.ReadErr = image.Read(dir)
		}, CheckManifest, "no image", []string{CheckManifest}},
		{"another command", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.Command = []string{"java", "-cp", "/elsewhere", "Other"}
		}, CheckMatch, "made for the command", []string{CheckManifest, CheckMatch}},
		{"no command given compares the engine only", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.Command = nil
		}, "", "", nil},
		{"another engine named", "crac", "warp", nil, CheckMatch, "made by engine warp, this start uses crac", nil},
		{"an engine this stasis does not know", engine.Auto, "zing", nil, CheckMatch, "unknown engine", nil},
		{"a variable of STASIS_RESTORE_ENV_MATCH changed", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.Environ, in.EnvMatch = map[string]string{"REGION": "us"}, []string{"REGION"}
		}, CheckEnvironment, "REGION differ", nil},
		{"STASIS_RESTORE_ENV_MATCH and no environment recorded", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			m.Env, m.EnvSalt = nil, ""
			rewrite(t, dir, m)
			in.Manifest, _ = image.Read(dir)
			in.EnvMatch = []string{"REGION"}
		}, CheckEnvironment, "records no environment", nil},
		{"java gone", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.Manifest.Java = filepath.Join(dir, "no-java")
		}, CheckJava, "executable is missing", nil},
		{"truncated file", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			os.Truncate(filepath.Join(dir, "pages-1.img"), 10)
		}, CheckFiles, "has 10 bytes", nil},
		{"damaged content", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			os.WriteFile(filepath.Join(dir, "pages-1.img"), []byte(strings.Repeat("y", 10000)), 0o644)
		}, CheckFiles, "pages-1.img", nil},
		{"criu image: pid taken", "criu", "criu", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.Manifest.PID = os.Getpid()
		}, CheckPID, "is taken", nil},
		{"criu image: no criu binary", "criu", "criu", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.CRIU = ""
		}, CheckCRIUBinary, "no criu found", nil},
		{"crac image: the JVM's criu is looked up where asked", "crac", "crac", func(t *testing.T, dir string, m *image.Manifest, in *RestoreInput) {
			in.JVMCRIU = func() (string, error) { return "", errors.New("the CRaC JDK will find no criu") }
		}, CheckCRIUBinary, "will find no criu", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := testImage(t, tc.image, env)
			in := input(t, dir, tc.engine)
			if tc.edit != nil {
				tc.edit(t, dir, m, &in)
			}
			for _, all := range []bool{false, true} {
				in.All = all
				r := CheckRestorable(in)
				if got := failed(r); got != tc.fail {
					t.Fatalf("All=%v: first failure %q, want %q: %+v", all, got, tc.fail, r.Checks)
				}
				if tc.fail == "" {
					if r.Err() != nil || r.Engine == nil || r.Engine.Name() != tc.image {
						t.Fatalf("All=%v: restorable, but err %v, engine %v", all, r.Err(), r.Engine)
					}
					continue
				}
				if err := r.Err(); err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("All=%v: err %v, want it to say %q", all, err, tc.errHas)
				}
				if !all && r.Checks[len(r.Checks)-1].OK {
					t.Fatalf("the restore's check goes on after a failure: %v", names(r.Checks))
				}
			}
			if tc.checked != nil {
				in.All = true
				if got := names(CheckRestorable(in).Checks); !isPrefix(got, tc.checked) {
					t.Fatalf("checks %v, want %v", got, tc.checked)
				}
			}
		})
	}
}

// isPrefix: the capabilities check may fail or pass with the container;
// the names before it are fixed.
func isPrefix(got, want []string) bool {
	return len(got) >= len(want)-1 && slices.Equal(got[:len(want)-1], want[:len(want)-1]) &&
		(len(got) == len(want)-1 || got[len(want)-1] == want[len(want)-1])
}

// The restore with STASIS_RESTORE_CHECKSUMS=during checks only the sizes
// before CRIU, where stasis runs it: a damaged content passes here (the
// checksums run during the restore); inspect and the doctor (All) read
// every checksum.
func TestCheckRestorableChecksumsDuringCRIU(t *testing.T) {
	dir, _ := testImage(t, "criu", map[string]string{"REGION": "eu"})
	os.WriteFile(filepath.Join(dir, "pages-1.img"), []byte(strings.Repeat("y", 10000)), 0o644)
	in := input(t, dir, "criu")
	in.ChecksumsDuringCRIU = true
	r := CheckRestorable(in)
	if c := find(r.Checks, CheckFiles); c == nil || !c.OK || !strings.Contains(c.Detail, "during the restore") {
		t.Fatalf("the restore's files check with the checksums during CRIU: %+v", r.Checks)
	}
	in.All = true
	if c := find(CheckRestorable(in).Checks, CheckFiles); c == nil || c.OK {
		t.Fatalf("inspect's files check does not read the checksums: %+v", c)
	}
	in.All, in.ChecksumsDuringCRIU = false, false
	if c := find(CheckRestorable(in).Checks, CheckFiles); c == nil || c.OK {
		t.Fatalf("the restore's default files check does not read the checksums: %+v", c)
	}
}

// A changed variable not named in STASIS_RESTORE_ENV_MATCH is no failure:
// the check names it, by name only.
func TestCheckRestorableEnvDiff(t *testing.T) {
	dir, _ := testImage(t, "warp", map[string]string{"REGION": "eu", "API_TOKEN": "secret-1"})
	in := input(t, dir, "warp")
	in.Environ = map[string]string{"REGION": "eu", "API_TOKEN": "secret-2"}
	r := CheckRestorable(in)
	c := find(r.Checks, CheckEnvironment)
	if !slices.Equal(r.EnvDiff, []string{"API_TOKEN"}) || c == nil || !c.OK || !strings.Contains(c.Detail, "API_TOKEN") || strings.Contains(c.Detail, "secret") {
		t.Fatalf("env diff %v, check %+v", r.EnvDiff, c)
	}
	var env *EnvChangedError
	in.EnvMatch = []string{"API_TOKEN"}
	if err := CheckRestorable(in).Err(); !errors.As(err, &env) {
		t.Fatalf("STASIS_RESTORE_ENV_MATCH=API_TOKEN: %v, want an *EnvChangedError (a cold start, not a failure)", err)
	}
}

func find(cs []image.Check, name string) *image.Check {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}
