package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDockerDoctor: in Docker, the doctor says ready with the flags that work and not ready
// without them, with fix lines this Docker accepts (20.10 rejects CHECKPOINT_RESTORE, so the
// fix names SYS_ADMIN beside it). Before, it said not ready with the flags that work (it
// trusted `criu check`, which wants more than the engine) and ready without SYS_PTRACE at
// restore, which hangs.
func TestDockerDoctor(t *testing.T) {
	f := setup(t)
	run := func(args ...string) (int, string) {
		full := append([]string{"run", "--rm", "--entrypoint", "/stasis"}, args...)
		out, err := exec.Command("docker", full...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	// The image has no checkpoint yet: this start would checkpoint.
	code, out := run(append(checkpointPrivileges(f), f.image, "doctor")...)
	if code != 0 || !strings.Contains(out, "ready: everything") {
		t.Errorf("doctor with %v: exit %d, want 0 (ready):\n%s", checkpointPrivileges(f), code, out)
	}
	code, out = run(f.image, "doctor")
	if code != 1 || !strings.Contains(out, "--cap-add=CHECKPOINT_RESTORE") ||
		!strings.Contains(out, "Docker 20.10 and older reject CHECKPOINT_RESTORE: --cap-add=SYS_ADMIN") ||
		!strings.Contains(out, "--security-opt seccomp=unconfined") || strings.Contains(out, "podman") {
		t.Errorf("doctor without privileges: exit %d, want 1 with Docker's fixes:\n%s", code, out)
	}

	t.Run("restore without a capability the JVM held", func(t *testing.T) {
		restored := checkpointImage(t, f)
		// The JVM held the checkpoint capability: without it, not ready.
		code, out := run(restored, "doctor")
		if code != 1 || !strings.Contains(out, "MISSING  capability "+strings.TrimPrefix(f.capFlag, "--cap-add=")) {
			t.Errorf("restore doctor without %s: exit %d, want 1 naming it:\n%s", f.capFlag, code, out)
		}
		code, out = run(append(privileges(f), restored, "doctor")...)
		if code != 0 {
			t.Errorf("restore doctor with %v: exit %d, want 0:\n%s", privileges(f), code, out)
		}
	})
}
