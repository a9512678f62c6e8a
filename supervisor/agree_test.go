package supervisor

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// TestInspectAgreesWithRestore: for each image, `stasis inspect` and the
// doctor (Foresee) say "restorable" exactly when the restore's own check
// (checkImage, as Restore runs it) lets it through, and foresee the action
// the start takes. Issue 14: inspect said yes to images the restore
// refused.
func TestInspectAgreesWithRestore(t *testing.T) {
	env := map[string]string{"REGION": "eu"}
	for _, tc := range []struct {
		name    string
		setting string // STASIS_ENGINE
		image   string // the engine that made it
		edit    func(t *testing.T, dir string, m *image.Manifest, ph *Phases)
		ok      bool
		action  Action
	}{
		{"restorable", "warp", "warp", nil, true, ActRestore},
		{"auto takes the image's engine", engine.Auto, "criu", nil, true, ActRestore},
		{"made by another engine", "crac", "warp", nil, false, ActCold},
		{"made for another command", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			ph.Command = []string{"java", "-jar", "/other.jar"}
		}, false, ActCold},
		{"pid taken", "criu", "criu", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			m.PID = os.Getpid()
			rewrite(t, dir, m)
		}, false, ActCold},
		{"damaged file", "criu", "criu", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			os.WriteFile(filepath.Join(dir, "pages-1.img"), []byte(strings.Repeat("y", 10000)), 0o644)
		}, false, ActCold},
		{"truncated file", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			os.Truncate(filepath.Join(dir, "pages-1.img"), 10)
		}, false, ActCold},
		{"damaged manifest", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			os.WriteFile(filepath.Join(dir, image.ManifestName), []byte("{"), 0o600)
		}, false, ActCold},
		{"damaged manifest, fail", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			os.WriteFile(filepath.Join(dir, image.ManifestName), []byte("{"), 0o600)
			ph.OnRestoreFailure = "fail"
		}, false, ActFail},
		{"java gone", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			m.Java = filepath.Join(dir, "no-java")
			rewrite(t, dir, m)
		}, false, ActCold},
		{"no criu", "criu", "criu", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			ph.Opt.CRIU = ""
		}, false, ActCold},
		{"a variable of STASIS_RESTORE_ENV_MATCH changed", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			ph.Environ, ph.EnvMatch, ph.OnRestoreFailure = map[string]string{"REGION": "us"}, []string{"REGION"}, "fail"
		}, false, ActCold},
		{"a check failed, fail", "warp", "warp", func(t *testing.T, dir string, m *image.Manifest, ph *Phases) {
			os.Truncate(filepath.Join(dir, "pages-1.img"), 10)
			ph.OnRestoreFailure = "fail"
		}, false, ActFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := testImage(t, tc.image, env)
			ph := &Phases{Mode: "auto", Opt: engine.Options{Dir: dir, CRIU: "/usr/sbin/criu"}, Command: testCommand,
				Environ: env, OnRestoreFailure: "cold", Runtime: engine.DetectRuntime(env)}
			if tc.setting == engine.Auto {
				ph.EngineFromImage = true
			} else {
				ph.Engine = engine.New(tc.setting)
			}
			if tc.edit != nil {
				tc.edit(t, dir, m, ph)
			}

			// The start: Plan, then the restore's check, then Plan again
			// with its failure (carryOut).
			in := ph.PlanInput()
			d := Plan(in)
			restorable := false
			if d.Action == ActRestore {
				s := &Supervisor{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
				_, _, err := s.checkImage(ph)
				restorable = err == nil
				if err != nil {
					in.RestoreErr = err
					d = Plan(in)
				}
			}

			f := Foresee(ForeseeInput{Mode: ph.Mode, OnRestoreFailure: ph.OnRestoreFailure, Dir: dir,
				Resolution: &engine.Resolution{Engine: ph.Engine, FromImage: ph.EngineFromImage, CRIU: ph.Opt.CRIU},
				Command:    ph.Command, Environ: ph.Environ, EnvMatch: ph.EnvMatch})
			inspected := image.NewReport(dir, f.Manifest, f.ImageErr, f.Restore.Checks)

			if restorable != tc.ok || inspected.Restorable != tc.ok {
				t.Fatalf("restore's check lets it through: %v, inspect says restorable: %v, want %v: %+v", restorable, inspected.Restorable, tc.ok, f.Restore.Checks)
			}
			if d.Action != tc.action || f.Decision.Action != d.Action || f.Decision.Start != d.Start {
				t.Fatalf("the start does %s (%q), inspect foresees %s (%q), want %s: %v / %v",
					d.Action, d.Start, f.Decision.Action, f.Decision.Start, tc.action, d.Reasons, f.Decision.Reasons)
			}
		})
	}
}
