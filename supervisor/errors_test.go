package supervisor

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// A start error whose cause wraps nothing still says what it is, never "<nil>".
func TestStartErrorNamesItsCause(t *testing.T) {
	cmd := exec.Command("")
	err := (&StartError{Argv0: "", Err: cmd.Start()}).Error()
	if strings.Contains(err, "<nil>") || !strings.Contains(err, "no command") {
		t.Fatalf("message %q", err)
	}
	wrapped := (&StartError{Argv0: "/x", Err: &exec.Error{Name: "/x", Err: errors.New("permission denied")}}).Error()
	if wrapped != "/x: cannot execute: permission denied" {
		t.Fatalf("message %q", wrapped)
	}
}
