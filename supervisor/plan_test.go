package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"stasis/supervisor/image"
)

func TestPlan(t *testing.T) {
	var (
		noImage  = fmt.Errorf("read: %w", image.ErrNoImage)
		damaged  = errors.New("manifest: unexpected end of JSON input")
		noEngine = errors.New("no checkpoint engine: no criu found")
		passed   = []image.Check{{Name: CheckManifest, OK: true}, {Name: CheckFiles, OK: true}}
		badFiles = []image.Check{{Name: CheckManifest, OK: true}, {Name: CheckFiles, Detail: "image file pages-1.img has 10 bytes", Err: errors.New("image file pages-1.img has 10 bytes")}}
		envDiff  = []image.Check{{Name: CheckManifest, OK: true}, {Name: CheckEnvironment, Err: &EnvChangedError{Names: []string{"REGION"}}}}
		criuDied = errors.New("criu restore exit status 1")
	)
	for _, tc := range []struct {
		name      string
		in        PlanInput
		action    Action
		wants     Action
		start     string
		reasonHas string
	}{
		// run mode: nothing else matters
		{"run", PlanInput{Mode: "run"}, ActRun, ActRun, "", "plain init"},
		{"run, image and trigger", PlanInput{Mode: "run", ImageErr: nil, Checks: passed}, ActRun, ActRun, "", "plain init"},
		{"run, engine error", PlanInput{Mode: "run", EngineErr: noEngine}, ActRun, ActRun, "", "plain init"},
		{"unknown mode", PlanInput{Mode: ""}, ActRun, ActRun, "", "no mode"},

		// checkpoint mode: the image does not matter, the engine does
		{"checkpoint, no image", PlanInput{Mode: "checkpoint", ImageErr: noImage}, ActCheckpoint, ActCheckpoint, "", "STASIS_MODE=checkpoint"},
		{"checkpoint over an image", PlanInput{Mode: "checkpoint", Checks: passed}, ActCheckpoint, ActCheckpoint, "", "STASIS_MODE=checkpoint"},
		{"checkpoint over a damaged image", PlanInput{Mode: "checkpoint", ImageErr: damaged}, ActCheckpoint, ActCheckpoint, "", ""},
		{"checkpoint, engine error", PlanInput{Mode: "checkpoint", EngineErr: noEngine}, ActFail, ActCheckpoint, "", "no criu found"},

		// restore mode
		{"restore, image not checked yet", PlanInput{Mode: "restore"}, ActRestore, ActRestore, "", "checks come first"},
		{"restore, checks passed", PlanInput{Mode: "restore", Checks: passed}, ActRestore, ActRestore, "", "passed its 2 checks"},
		{"restore, engine error does not matter", PlanInput{Mode: "restore", EngineErr: noEngine, Checks: passed}, ActRestore, ActRestore, "", ""},
		{"restore, no image", PlanInput{Mode: "restore", ImageErr: noImage, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "read: no image"},
		{"restore, no image, fail", PlanInput{Mode: "restore", ImageErr: noImage, OnRestoreFailure: "fail"}, ActFail, ActRestore, "", "STASIS_ON_RESTORE_FAILURE=fail"},
		{"restore, damaged image", PlanInput{Mode: "restore", ImageErr: damaged, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "unexpected end"},
		{"restore, a check failed", PlanInput{Mode: "restore", Checks: badFiles, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "pages-1.img"},
		{"restore, a check failed, fail", PlanInput{Mode: "restore", Checks: badFiles, OnRestoreFailure: "fail"}, ActFail, ActRestore, "", "pages-1.img"},
		{"restore, environment changed", PlanInput{Mode: "restore", Checks: envDiff, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartCold, "REGION"},
		{"restore, environment changed is cold even with fail", PlanInput{Mode: "restore", Checks: envDiff, OnRestoreFailure: "fail"}, ActCold, ActRestore, StartCold, "instead of restoring"},
		{"restore, environment changed, found by the restore", PlanInput{Mode: "restore", RestoreErr: &EnvChangedError{}, OnRestoreFailure: "fail"}, ActCold, ActRestore, StartCold, "records no environment"},
		{"restore, CRIU failed", PlanInput{Mode: "restore", Checks: passed, RestoreErr: criuDied, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "criu restore exit status 1"},
		{"restore, CRIU failed, fail", PlanInput{Mode: "restore", RestoreErr: criuDied, OnRestoreFailure: "fail"}, ActFail, ActRestore, "", "criu restore"},

		// auto mode: the image decides, then the trigger, then the engine
		{"auto, image", PlanInput{Mode: "auto", ImageDir: "/checkpoint"}, ActRestore, ActRestore, "", "an image is in /checkpoint"},
		{"auto, image, no trigger", PlanInput{Mode: "auto", NoTrigger: true, Checks: passed}, ActRestore, ActRestore, "", "passed"},
		{"auto, image, engine error", PlanInput{Mode: "auto", EngineErr: noEngine, Checks: passed}, ActRestore, ActRestore, "", "passed"},
		{"auto, image, a check failed", PlanInput{Mode: "auto", Checks: badFiles, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "pages-1.img"},
		{"auto, image, a check failed, fail", PlanInput{Mode: "auto", Checks: badFiles, OnRestoreFailure: "fail"}, ActFail, ActRestore, "", "pages-1.img"},
		{"auto, image, environment changed", PlanInput{Mode: "auto", Checks: envDiff, OnRestoreFailure: "fail"}, ActCold, ActRestore, StartCold, "REGION"},
		{"auto, image, CRIU failed", PlanInput{Mode: "auto", RestoreErr: criuDied, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "criu restore"},
		{"auto, damaged image", PlanInput{Mode: "auto", ImageErr: damaged, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, "a damaged image"},
		{"auto, damaged image, fail", PlanInput{Mode: "auto", ImageErr: damaged, OnRestoreFailure: "fail"}, ActFail, ActRestore, "", "unexpected end"},
		{"auto, damaged image, no trigger", PlanInput{Mode: "auto", ImageErr: damaged, NoTrigger: true, OnRestoreFailure: "cold"}, ActCold, ActRestore, StartColdFailure, ""},
		{"auto, no image", PlanInput{Mode: "auto", ImageErr: noImage, ImageDir: "/checkpoint"}, ActCheckpoint, ActCheckpoint, "", "this is the checkpoint run"},
		{"auto, no image, no trigger", PlanInput{Mode: "auto", ImageErr: noImage, NoTrigger: true}, ActCold, ActCold, StartCold, "no STASIS_CHECKPOINT_ON"},
		{"auto, no image, no trigger, engine error", PlanInput{Mode: "auto", ImageErr: noImage, NoTrigger: true, EngineErr: noEngine}, ActCold, ActCold, StartCold, "no STASIS_CHECKPOINT_ON"},
		{"auto, no image, engine error", PlanInput{Mode: "auto", ImageErr: noImage, EngineErr: noEngine}, ActCold, ActCheckpoint, StartCold, "cannot checkpoint here: no checkpoint engine"},
		{"auto, no image, engine error, fail", PlanInput{Mode: "auto", ImageErr: noImage, EngineErr: noEngine, OnRestoreFailure: "fail"}, ActCold, ActCheckpoint, StartCold, "no criu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Plan(tc.in)
			if d.Action != tc.action || d.Wants != tc.wants || d.Start != tc.start {
				t.Fatalf("Plan = %s (wants %s, start %q), want %s (wants %s, start %q): %v", d.Action, d.Wants, d.Start, tc.action, tc.wants, tc.start, d.Reasons)
			}
			if reasons := strings.Join(d.Reasons, "; "); len(d.Reasons) == 0 || !strings.Contains(reasons, tc.reasonHas) {
				t.Fatalf("reasons %q lack %q", reasons, tc.reasonHas)
			}
			if (d.Action == ActFail || d.Start != "" && d.Wants != ActCold) != (d.Cause != nil) {
				t.Fatalf("cause %v for %s (start %q)", d.Cause, d.Action, d.Start)
			}
		})
	}
}
