package supervisor

import (
	"errors"
	"fmt"

	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// PreflightError is a phase that was not tried: the container lacks what the
// engine needs for it. CRIU never ran; the message names what is missing and
// the fix.
type PreflightError struct {
	Phase   engine.Phase
	Missing []engine.Missing
}

func (e *PreflightError) Error() string {
	return fmt.Sprintf("not tried, this container cannot %s: %s", e.Phase, engine.Describe(e.Missing))
}

// preflight checks, before CRIU runs, what eng needs for phase here: the
// capabilities (at restore, also every one the JVM held at its checkpoint),
// the seccomp state, ptrace, the criu binary. Without it, a dump fails late
// and a restore can hang in a CRIU BUG until STASIS_RESTORE_TIMEOUT (issue
// 12: no SYS_PTRACE at restore).
func preflight(eng engine.Engine, phase engine.Phase, m *image.Manifest, command []string, runtime, criu string) error {
	var jvmCaps uint64
	if m != nil {
		var unknown []string
		jvmCaps, unknown = engine.CapMask(m.JVMCapabilities)
		if len(unknown) > 0 {
			return fmt.Errorf("the image's manifest names unknown capabilities %v", unknown)
		}
	}
	facts := engine.ReadHostFacts()
	n := engine.NeedsOf(eng.Name(), phase, jvmCaps, facts, command)
	missing := engine.Check(n, facts, runtime)
	if n.CRIU && criu == "" {
		missing = append(missing, engine.Missing{What: CheckCRIUBinary, Why: "no criu binary found",
			Fix: "install CRIU 4.x in the image and set STASIS_CRIU"})
	}
	if len(missing) > 0 {
		return &PreflightError{Phase: phase, Missing: missing}
	}
	return nil
}

var errNoCRIU = errors.New("no criu found (set STASIS_CRIU)")
