package supervisor

import (
	"errors"
	"fmt"

	"stasis/supervisor/image"
)

// Action is what a start does.
type Action string

// The actions of a start. Cold is the command as it is, in place of a
// restore or a checkpoint; Run is run mode's plain init; Fail ends the
// start with the restore's or the checkpoint's error (exit 4 or 3).
const (
	ActRestore    Action = "restore"
	ActCheckpoint Action = "checkpoint"
	ActCold       Action = "cold"
	ActRun        Action = "run"
	ActFail       Action = "fail"
)

// PlanInput are the facts a start is decided from, gathered beforehand:
// Plan does no I/O, so every combination is a row of a table test.
type PlanInput struct {
	Mode             string // auto, checkpoint, restore, run
	NoTrigger        bool   // STASIS_CHECKPOINT_ON is empty
	OnRestoreFailure string // cold or fail
	ImageDir         string
	// ImageErr is image.Read's error: image.ErrNoImage when the directory
	// holds no manifest, another error for a damaged one.
	ImageErr error
	// EngineErr is why this start cannot checkpoint (engine.Resolution.Err,
	// or no engine at all).
	EngineErr error
	// Checks are the restorability check's verdicts (CheckRestorable); nil
	// when they have not run yet (the restore runs them after deciding).
	Checks []image.Check
	// RestoreErr is why a restore whose checks passed failed after all.
	RestoreErr error
}

// Decision is what a start does, and why. Wants is what the settings and
// the image directory ask for (restore, checkpoint, cold without a
// trigger, run); Action differs from it where this host says otherwise.
// The doctor judges what Wants needs; the status reports both.
type Decision struct {
	Action  Action   `json:"action"`
	Wants   Action   `json:"wants"`
	Reasons []string `json:"reasons"`
	// Start is how the status names a cold start: cold, or
	// cold-after-restore-failure.
	Start string `json:"-"`
	// Cause is the failure behind a fallback or ActFail.
	Cause error `json:"-"`
}

// Plan decides restore, checkpoint, a cold start or a plain init.
func Plan(in PlanInput) Decision {
	switch in.Mode {
	case "run":
		return Decision{Action: ActRun, Wants: ActRun, Reasons: []string{"STASIS_MODE=run: stasis is a plain init, it neither checkpoints nor restores"}}
	case "checkpoint":
		if in.EngineErr != nil {
			return Decision{Action: ActFail, Wants: ActCheckpoint, Cause: in.EngineErr,
				Reasons: []string{"STASIS_MODE=checkpoint, but this start cannot checkpoint here: " + in.EngineErr.Error()}}
		}
		return Decision{Action: ActCheckpoint, Wants: ActCheckpoint, Reasons: []string{"STASIS_MODE=checkpoint"}}
	case "restore":
		return planRestore(in, "STASIS_MODE=restore")
	case "auto":
		return planAuto(in)
	}
	return Decision{Action: ActRun, Wants: ActRun, Reasons: []string{fmt.Sprintf("STASIS_MODE=%q is no mode that checkpoints or restores", in.Mode)}}
}

// planAuto restores an image, checkpoints where there is none and a
// trigger is set (the first start), and otherwise starts cold.
func planAuto(in PlanInput) Decision {
	switch {
	case in.ImageErr == nil:
		return planRestore(in, "an image is in "+in.ImageDir)
	case !errors.Is(in.ImageErr, image.ErrNoImage):
		return planRestore(in, "a damaged image is in "+in.ImageDir)
	case in.NoTrigger:
		return Decision{Action: ActCold, Wants: ActCold, Start: StartCold,
			Reasons: []string{"no image and no STASIS_CHECKPOINT_ON"}}
	case in.EngineErr != nil:
		return Decision{Action: ActCold, Wants: ActCheckpoint, Start: StartCold, Cause: in.EngineErr,
			Reasons: []string{"no image yet, but this start cannot checkpoint here: " + in.EngineErr.Error()}}
	}
	return Decision{Action: ActCheckpoint, Wants: ActCheckpoint,
		Reasons: []string{"no image yet in " + in.ImageDir + ": this is the checkpoint run"}}
}

// planRestore: restore, unless the image or this host says no; then a cold
// start, or STASIS_ON_RESTORE_FAILURE=fail.
func planRestore(in PlanInput, why string) Decision {
	d := Decision{Action: ActRestore, Wants: ActRestore, Reasons: []string{why}}
	cause := in.ImageErr
	if cause == nil {
		cause = FirstFailure(in.Checks)
	}
	if cause == nil {
		cause = in.RestoreErr
	}
	var env *EnvChangedError
	switch {
	case cause == nil && in.Checks == nil:
		d.Reasons = append(d.Reasons, "its checks come first")
	case cause == nil:
		d.Reasons = append(d.Reasons, fmt.Sprintf("it passed its %d checks", len(in.Checks)))
	case errors.As(cause, &env):
		// Not a failure: the image may not serve this environment.
		d.Action, d.Start, d.Cause = ActCold, StartCold, cause
		d.Reasons = append(d.Reasons, "starting cold instead of restoring: "+cause.Error())
	case in.OnRestoreFailure == "fail":
		d.Action, d.Cause = ActFail, cause
		d.Reasons = append(d.Reasons, "the restore cannot be made (STASIS_ON_RESTORE_FAILURE=fail): "+cause.Error())
	default:
		d.Action, d.Start, d.Cause = ActCold, StartColdFailure, cause
		d.Reasons = append(d.Reasons, "the restore cannot be made, starting cold instead (STASIS_ON_RESTORE_FAILURE=cold): "+cause.Error())
	}
	return d
}
