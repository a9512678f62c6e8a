package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"stasis/control"
)

// After stasis exited cleanly, `stasis healthcheck` says it stopped, not
// "starting" as before the start.
func TestHealthcheckAfterCleanExit(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	r := startNS(t, []string{"STASIS_STATE_DIR=" + state}, "--mode=run", "--", "/bin/sleep", "0.3")
	if code := r.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	cmd := exec.Command(stasisBin, "healthcheck")
	cmd.Env = append(os.Environ(), "STASIS_STATE_DIR="+state)
	code, out := runOutput(t, cmd)
	if code != 1 || strings.Contains(out, "starting") || !strings.Contains(out, "stopped: stasis exited") || !strings.Contains(out, "status 0") {
		t.Fatalf("healthcheck after a clean exit: exit %d: %s", code, out)
	}
	// A new stasis in the same state directory removes the note at once.
	r = startNS(t, []string{"STASIS_STATE_DIR=" + state}, "--mode=run", "--", "/bin/sleep", "30")
	waitControl(t, state)
	if _, ok := control.Exited(state); ok {
		t.Fatal("the last run's exit note outlived the new start")
	}
}

// A control request from another uid is refused once in the message, not
// "refused: refused:".
func TestRefusedOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client under another uid")
	}
	open := t.TempDir() // and the way to it, for uid 65534
	os.Chmod(open, 0o755)
	os.Chmod(filepath.Dir(open), 0o755)
	bin := filepath.Join(open, "stasis")
	b, err := os.ReadFile(stasisBin)
	if err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatal("copy stasis", err)
	}
	state := filepath.Join(open, "state")
	srv, err := control.Listen(state, func(context.Context, control.Request) control.Response {
		return control.Response{OK: true}
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Open the way for uid 65534, so that the peer check, not the mode, refuses it.
	os.Chmod(state, 0o755)
	os.Chmod(srv.Path(), 0o777)
	for _, sub := range []string{"checkpoint", "status"} {
		cmd := exec.Command(bin, sub)
		cmd.Env = append(os.Environ(), "STASIS_STATE_DIR="+state)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		code, out := runOutput(t, cmd)
		if code != 1 || strings.Count(out, "refused") != 1 || !strings.Contains(out, "client uid 65534") {
			t.Fatalf("stasis %s as uid 65534: exit %d: %s", sub, code, out)
		}
	}
}

// `stasis -- ”` says what is wrong, not "cannot execute: <nil>".
func TestEmptyCommandName(t *testing.T) {
	code, out := runOutput(t, exec.Command(stasisBin, "--", ""))
	if code != 2 || strings.Contains(out, "<nil>") || !strings.Contains(out, "the command's name is empty") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// A subcommand's bad flag is one line naming it, exit 2, as the init's
// flags are (the flag package printed its whole usage, 60 lines); -h still
// prints the usage, on stdout, exit 0.
func TestSubcommandBadFlagIsOneLine(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		{"status", "--bad"},
		{"status", "--json=maybe"},
		{"healthcheck", "--no-such"},
		{"checkpoint", "--no-such"},
		{"inspect", "--no-such"},
		{"doctor", "--json=3"},
	} {
		cmd := exec.Command(stasisBin, args...)
		cmd.Env = append(os.Environ(), "STASIS_STATE_DIR="+state)
		code, out := runOutput(t, cmd)
		msg := strings.TrimRight(out, "\n")
		if code != 2 || strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "stasis "+args[0]+": ") || !strings.Contains(msg, strings.SplitN(strings.TrimLeft(args[1], "-"), "=", 2)[0]) {
			t.Errorf("stasis %s: exit %d, want 2 and one line naming the flag:\n%s", strings.Join(args, " "), code, out)
		}
	}
	cmd := exec.Command(stasisBin, "status", "-h")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), "-json") {
		t.Errorf("stasis status -h: %v, want the usage on stdout:\n%s", err, stdout.String())
	}
}
