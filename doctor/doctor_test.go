package doctor

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"stasis/supervisor/engine"
	"strings"
	"testing"
)

// allCaps is a root container with everything.
func goodFacts() Facts {
	return Facts{CapEff: 1<<41 - 1, CapLast: 40, Seccomp: 0, PtraceScope: 1, NsLastPID: true, PIDMax: 32768,
		IsStasisPID1: true, FreeBytes: 10 << 30, CRIUVersion: "4.2.1", CRIUCheck: "Looks good.", CRIUCheckOK: true}
}

func goodConfig(name string, checkpoint, restore bool) Config {
	var ef EngineFacts
	if f, ok := engine.FactsOf(name); ok {
		ef = EngineFacts{PreservesPIDs: f.PreservesPIDs, RestoreShm: f.RestoreShm, LibCRIU: f.LibCRIU}
	}
	return Config{Mode: "auto", Engine: name, Checkpoint: checkpoint, Restore: restore, CRIU: "/usr/sbin/criu",
		ImageDir: "/checkpoint", MinPID: 1000, ExpectedImageBytes: 100 << 20,
		Image:  ImageState{Present: restore, PID: 1001, Bytes: 100 << 20},
		OpenJ9: openJ9Facts{CRIUOnPath: "/usr/sbin/criu", LibCRIU: "/usr/lib64/libcriu.so"}, EngineFacts: ef}
}

func finding(r *Report, name string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].Name == name {
			return &r.Findings[i]
		}
	}
	return nil
}

// TestDiagnoseOpenJ9TLS: -XX:+EnableCRIUSupport leaves only
// CRIUSECProvider until the restore, and so does -XX:CRaCCheckpointTo
// (runtime/vm/jvminit.c: J9_IS_CRIU_OR_CRAC_CHECKPOINT_ENABLED), so the
// doctor warns in both modes unless -XX:-CRIUSecProvider is set.
func TestDiagnoseOpenJ9TLS(t *testing.T) {
	for _, tc := range []struct {
		api  string
		cmd  []string
		warn bool
	}{
		{"criusupport", []string{"java", "-jar", "app.jar"}, true},
		{"criusupport", []string{"java", "-XX:-CRIUSecProvider", "-jar", "app.jar"}, false},
		{"crac", []string{"java", "-jar", "app.jar"}, true},
		{"crac", []string{"java", "-XX:-CRIUSecProvider", "-jar", "app.jar"}, false},
	} {
		c := goodConfig("openj9", true, false)
		c.OpenJ9API, c.Command = tc.api, tc.cmd
		f := finding(Diagnose(c, goodFacts()), "openj9: TLS before the checkpoint")
		if got := f != nil && f.Status == StatusWarning && strings.Contains(f.Fix, "-XX:-CRIUSecProvider"); got != tc.warn {
			t.Errorf("%s %q: TLS warning %v (%+v), want %v", tc.api, tc.cmd, got, f, tc.warn)
		}
	}
}

func TestDiagnose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     func() Config
		facts   func(f *Facts)
		missing string // "" : OK
		fix     string
	}{
		{"criu checkpoint, all there", func() Config { return goodConfig("criu", true, false) }, nil, "", ""},
		{"an unmet privilege", func() Config {
			c := goodConfig("criu", false, true)
			c.Privileges = []Privilege{{Name: "capability CHECKPOINT_RESTORE", OK: true, Detail: "in the effective set"},
				{Name: "capability SYS_PTRACE", Detail: "the JVM held it at its checkpoint", Fix: "docker run --cap-add=SYS_PTRACE …"}}
			return c
		}, nil, "capability SYS_PTRACE", "--cap-add=SYS_PTRACE"},
		{"privileges all met", func() Config {
			c := goodConfig("criu", true, false)
			c.Privileges = []Privilege{{Name: "seccomp", OK: true, Detail: "no filter"}}
			return c
		}, func(f *Facts) { f.CapEff = 0 }, "", ""},
		{"an incomplete configuration is a finding", func() Config {
			c := goodConfig("criu", true, false)
			c.ConfigErr = `STASIS_CHECKPOINT_ON="": checkpoint mode needs a trigger`
			return c
		}, nil, "configuration", "stasis --help"},
		{"openj9 checkpoint needs criu on PATH, whatever STASIS_CRIU says", func() Config {
			c := goodConfig("openj9", true, false)
			c.OpenJ9.CRIUOnPath = ""
			return c
		}, nil, "openj9: criu on PATH", "on PATH"},
		{"openj9 checkpoint needs libcriu.so", func() Config {
			c := goodConfig("openj9", true, false)
			c.OpenJ9.LibCRIU = ""
			return c
		}, nil, "openj9: libcriu.so", "libcriu.so"},
		{"openj9 checkpoint needs the unversioned libcriu.so", func() Config {
			c := goodConfig("openj9", true, false)
			c.OpenJ9.LibCRIU, c.OpenJ9.LibCRIUVersioned = "", "/usr/lib/x86_64-linux-gnu/libcriu.so.2"
			return c
		}, nil, "openj9: libcriu.so", "ln -s libcriu.so.2 /usr/lib/x86_64-linux-gnu/libcriu.so"},
		// Capabilities are the engine's needs (the Privileges list, from
		// engine.NeedsOf): the doctor has no NET_ADMIN rule of its own,
		// which demanded it of OpenJ9's privileged dump too.
		{"openj9 checkpoint: no capability rule of the doctor's own", func() Config { return goodConfig("openj9", true, false) },
			func(f *Facts) { f.CapEff &^= 1 << 12 }, "", ""},
		{"openj9 restore needs no criu on PATH", func() Config {
			c := goodConfig("openj9", false, true)
			c.OpenJ9 = openJ9Facts{}
			return c
		}, func(f *Facts) { f.CapEff &^= 1 << 12 }, "", ""},
		{"crac checkpoint under seccomp", func() Config { return goodConfig("crac", true, false) },
			func(f *Facts) { f.Seccomp = 2 }, "", ""},
		{"warp needs no capabilities", func() Config { return goodConfig("warp", true, false) },
			func(f *Facts) { f.CapEff, f.NsLastPID = 0, false }, "", ""},
		{"no ns_last_pid", func() Config { return goodConfig("crac", false, true) },
			func(f *Facts) { f.NsLastPID = false }, "kernel", "STASIS_ENGINE=warp"},
		{"no criu", func() Config {
			c := goodConfig("criu", true, false)
			c.CRIU, c.CRIUErr = "", "no criu found"
			return c
		},
			nil, "criu binary", "STASIS_CRIU="},
		{"criu check failing is no verdict", func() Config { return goodConfig("criu", false, true) },
			func(f *Facts) { f.CRIUCheckOK, f.CRIUCheck = false, "criu check: not good" }, "", ""},
		{"no engine", func() Config { c := goodConfig("", true, false); c.EngineErr = "no criu"; return c },
			nil, "engine", "CRaC JDK"},
		{"read-only image dir", func() Config { return goodConfig("criu", true, false) },
			func(f *Facts) { f.ImageDirWritable = "/checkpoint is not writable: read-only file system" }, "image dir writable", "-v stasis-image:/checkpoint"},
		{"read-only image dir is fine for a restore", func() Config { return goodConfig("criu", false, true) },
			func(f *Facts) { f.ImageDirWritable = "read-only" }, "", ""},
		{"restore without an image", func() Config { c := goodConfig("criu", false, true); c.Image = ImageState{}; return c },
			nil, "image", "STASIS_MODE=checkpoint"},
		{"image for another command", func() Config {
			c := goodConfig("criu", false, true)
			c.Image.Problem = "the image was made for another command"
			return c
		}, nil, "image", ""},
		{"pid_max too small", func() Config { return goodConfig("criu", true, false) },
			func(f *Facts) { f.PIDMax = 1500 }, "pid_max", "STASIS_MIN_PID"},
		{"crac restore needs /dev/shm", func() Config { return goodConfig("crac", false, true) },
			func(f *Facts) { f.ShmWritable = "/dev/shm is not writable" }, "/dev/shm", "medium: Memory"},
		{"disk too small for the image", func() Config { return goodConfig("criu", true, false) },
			func(f *Facts) { f.FreeBytes = 10 << 20 }, "disk", "at least 100 MB"},
		{"run mode needs nothing", func() Config { c := goodConfig("", false, false); c.Mode = "run"; return c },
			func(f *Facts) {
				*f = Facts{Seccomp: 2, PtraceScope: 3, FreeBytes: 0, ShmWritable: "no", ImageDirWritable: "no"}
			}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := goodFacts()
			if tc.facts != nil {
				tc.facts(&f)
			}
			r := Diagnose(tc.cfg(), f)
			var missing []string
			for _, fd := range r.Findings {
				if fd.Status == StatusMissing {
					missing = append(missing, fd.Name)
				}
			}
			if tc.missing == "" {
				if !r.OK || len(missing) > 0 {
					t.Fatalf("want OK, missing %v: %+v", missing, r.Findings)
				}
				return
			}
			fd := finding(r, tc.missing)
			if r.OK || fd == nil || fd.Status != StatusMissing {
				t.Fatalf("want %s missing, got OK=%v %+v", tc.missing, r.OK, r.Findings)
			}
			if !strings.Contains(fd.Fix, tc.fix) {
				t.Fatalf("fix for %s is %q, want it to contain %q", tc.missing, fd.Fix, tc.fix)
			}
		})
	}
}

func TestGatherReadsThisMachine(t *testing.T) {
	dir := t.TempDir()
	f := Gather(context.Background(), Config{ImageDir: filepath.Join(dir, "img")})
	if f.CapErr != "" || f.PIDMax <= 0 || f.FreeBytes <= 0 {
		t.Fatalf("facts: %+v", f)
	}
	if f.ImageDirWritable != "" {
		t.Fatalf("a fresh temp dir's child is not writable: %s", f.ImageDirWritable)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the doctor left files behind: %v", left)
	}
}

// TestFindLibCRIU: OpenJ9 dlopens "libcriu.so" (CRIUHelpers.cpp), so only
// that name counts, in the first directory that has it; a versioned one is
// kept as a hint.
func TestFindLibCRIU(t *testing.T) {
	versionedOnly, both := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(versionedOnly, "libcriu.so.2"), filepath.Join(both, "libcriu.so.2"), filepath.Join(both, "libcriu.so")} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if lib, v := findLibCRIU([]string{"", versionedOnly}); lib != "" || v != filepath.Join(versionedOnly, "libcriu.so.2") {
		t.Errorf("versioned only: %q, %q", lib, v)
	}
	if lib, _ := findLibCRIU([]string{versionedOnly, both}); lib != filepath.Join(both, "libcriu.so") {
		t.Errorf("libcriu.so in the second directory: %q", lib)
	}
}

// The doctor judges OpenJ9's capabilities by engine.NeedsOf, the rules the
// preflight applies, for the mode the command chooses: privileged (the
// default) SYS_ADMIN, -Dopenj9.internal.criu.unprivilegedMode=true
// CHECKPOINT_RESTORE and NET_ADMIN. Before, the doctor had a NET_ADMIN rule
// of its own and NeedsOf asked for CHECKPOINT_RESTORE and SETPCAP in both.
func TestDoctorOpenJ9PrivilegesAreNeedsOf(t *testing.T) {
	facts := engine.ReadHostFacts()
	for _, tc := range []struct {
		command   []string
		want, not []string
	}{
		{[]string{"java", "-jar", "app.jar"}, []string{"capability SYS_ADMIN"}, []string{"capability NET_ADMIN", "capability CHECKPOINT_RESTORE"}},
		{[]string{"java", "-Dopenj9.internal.criu.unprivilegedMode=true", "-jar", "app.jar"},
			[]string{"capability CHECKPOINT_RESTORE", "capability NET_ADMIN"}, []string{"capability SYS_ADMIN"}},
	} {
		dc := Config{Engine: "openj9", Checkpoint: true, Command: tc.command}
		ps, _ := Privileges(dc, nil, "")
		var got []string
		for _, p := range ps {
			got = append(got, p.Name)
		}
		want := engine.NeedsOf("openj9", engine.PhaseCheckpoint, 0, facts, tc.command).Items()
		if !slices.Equal(got, want) {
			t.Errorf("%v: the doctor judges %v, NeedsOf needs %v", tc.command, got, want)
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%v: the doctor does not judge %s: %v", tc.command, w, got)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(got, n) {
				t.Errorf("%v: the doctor judges %s: %v", tc.command, n, got)
			}
		}
	}
}
