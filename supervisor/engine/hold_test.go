package engine

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runScript starts the hold's action script as CRIU does (exec'd with no
// arguments, CRTOOLS_SCRIPT_ACTION naming the stage) and returns its exit.
func runScript(t *testing.T, h *hold, action string) <-chan error {
	t.Helper()
	cmd := exec.Command(h.script)
	cmd.Env = append(os.Environ(), "CRTOOLS_SCRIPT_ACTION="+action)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done
}

func newTestHold(t *testing.T) *hold {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	h, err := newHold(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

// The script lets every stage but pre-resume pass at once, holds
// pre-resume until the verdict, and lets it pass only for "ok": a damaged
// image, or a stasis that went away without a verdict, never resumes.
func TestHoldScript(t *testing.T) {
	const held = 300 * time.Millisecond
	t.Run("other stages pass", func(t *testing.T) {
		h := newTestHold(t)
		for _, a := range []string{"pre-restore", "post-restore", "post-resume"} {
			select {
			case err := <-runScript(t, h, a):
				if err != nil {
					t.Fatalf("%s: %v", a, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s waited for the verdict", a)
			}
		}
	})
	verdicts := map[string]struct {
		tell func(h *hold)
		ok   bool
	}{
		"ok resumes":             {func(h *hold) { h.tell(nil) }, true},
		"damaged does not":       {func(h *hold) { h.tell(errors.New("crc mismatch")) }, false},
		"no verdict does not":    {func(h *hold) { h.close() }, false},
		"verdict before waiting": {nil, true},
	}
	for name, v := range verdicts {
		t.Run(name, func(t *testing.T) {
			h := newTestHold(t)
			if v.tell == nil {
				h.tell(nil) // the checksums can finish before CRIU gets there
			}
			done := runScript(t, h, "pre-resume")
			if v.tell != nil {
				select {
				case err := <-done:
					t.Fatalf("pre-resume passed before the verdict: %v", err)
				case <-time.After(held):
				}
				v.tell(h)
			}
			select {
			case err := <-done:
				if (err == nil) != v.ok {
					t.Fatalf("pre-resume exit %v, want success %t", err, v.ok)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("pre-resume still waits after the verdict")
			}
		})
	}
}

func TestHoldScriptQuotesThePath(t *testing.T) {
	got := HoldScript("/run/it's here/verdict.fifo")
	if want := `read -r verdict < '/run/it'\''s here/verdict.fifo' || exit 1`; !strings.Contains(got, want) {
		t.Fatalf("script:\n%s\nlacks %s", got, want)
	}
}
