package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Configuration errors that only this machine shows are still found before
// anything starts: exit 2, one line naming the setting, the command never
// run, the image directory untouched.
func TestConfigErrorsFoundHereExit2(t *testing.T) {
	pidMax, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip("no /proc/sys/kernel/pid_max")
	}
	cases := []struct {
		name, says string
		setup      func(t *testing.T, dir string) []string // returns stasis's flags
		command    func(marker string) []string
	}{
		{"image dir is a file", "STASIS_IMAGE_DIR", func(t *testing.T, dir string) []string {
			f := filepath.Join(dir, "img")
			os.WriteFile(f, []byte("mine"), 0o644)
			return []string{"--image-dir=" + f}
		}, nil},
		{"image dir is /", "STASIS_IMAGE_DIR", func(t *testing.T, dir string) []string {
			return []string{"--image-dir=/", "--mode=checkpoint", "--checkpoint-on=manual"}
		}, nil},
		{"min pid at pid_max", "STASIS_MIN_PID", func(t *testing.T, dir string) []string {
			return []string{"--image-dir=" + filepath.Join(dir, "img"), "--min-pid=" + strings.TrimSpace(string(pidMax))}
		}, nil},
		{"warm-up command missing in auto mode", "STASIS_WARMUP_CMD", func(t *testing.T, dir string) []string {
			return []string{"--image-dir=" + filepath.Join(dir, "img"), "--checkpoint-on=manual",
				"--state-dir=" + filepath.Join(dir, "state"), "--warmup-cmd=/nonexistent/wrk -c 4"}
		}, nil},
		{"manual trigger without a usable state dir", "STASIS_STATE_DIR", func(t *testing.T, dir string) []string {
			f := filepath.Join(dir, "state")
			os.WriteFile(f, nil, 0o644)
			return []string{"--image-dir=" + filepath.Join(dir, "img"), "--checkpoint-on=manual", "--state-dir=" + f}
		}, nil},
		{"crac engine on a JDK without CRaC", "STASIS_ENGINE", func(t *testing.T, dir string) []string {
			return []string{"--image-dir=" + filepath.Join(dir, "img"), "--engine=crac", "--mode=checkpoint", "--checkpoint-on=manual",
				"--state-dir=" + filepath.Join(dir, "state")}
		}, func(marker string) []string { return []string{plainJava(marker), "-jar", "app.jar"} }},
		{"crac engine on a JDK without CRaC, auto mode", "STASIS_ENGINE", func(t *testing.T, dir string) []string {
			return []string{"--image-dir=" + filepath.Join(dir, "img"), "--engine=crac", "--checkpoint-on=manual",
				"--state-dir=" + filepath.Join(dir, "state")}
		}, func(marker string) []string { return []string{plainJava(marker), "-jar", "app.jar"} }},
		{"empty command name", "command's name is empty", func(t *testing.T, dir string) []string { return nil },
			func(string) []string { return []string{""} }},
		{"flag without its value", "flag --mode needs a value", func(t *testing.T, dir string) []string {
			return []string{"--mode"}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "started")
			args := c.setup(t, dir)
			command := []string{"/bin/sh", "-c", "touch " + marker}
			if c.command != nil {
				command = c.command(marker)
			}
			cmd := exec.Command(stasisBin, append(append(args, "--"), command...)...)
			cmd.Env = os.Environ()
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; output: %s", err, stderr.String())
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the command was started despite the bad setting")
			}
			msg := strings.TrimRight(stderr.String(), "\n")
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.says) {
				t.Fatalf("want one line naming %s, got:\n%s", c.says, msg)
			}
			if _, err := os.Stat(filepath.Join(dir, "img")); err == nil && c.name != "image dir is a file" {
				t.Fatal("the image directory was created")
			}
		})
	}
}

// plainJava makes a JDK home without CRaC whose bin/java only records that
// it ran: STASIS_ENGINE=crac must be refused before it is launched.
func plainJava(marker string) string {
	home := filepath.Join(filepath.Dir(marker), "jdk")
	os.MkdirAll(filepath.Join(home, "bin"), 0o755)
	os.MkdirAll(filepath.Join(home, "lib"), 0o755)
	java := filepath.Join(home, "bin", "java")
	os.WriteFile(java, []byte("#!/bin/sh\ntouch "+strconv.Quote(marker)+"\n"), 0o755)
	return java
}

// A read-only image directory is refused in checkpoint mode (exit 2), not
// found out after the JVM ran to readiness. The directory is a read-only
// bind mount in a mount namespace of its own.
func TestReadOnlyImageDirRefusedForCheckpoint(t *testing.T) {
	requireNamespaces(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	marker := filepath.Join(dir, "started")
	script := `set -e; mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; shift; exec "$@"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", img,
		stasisBin, "--mode=checkpoint", "--checkpoint-on=manual", "--image-dir="+img, "--state-dir="+filepath.Join(dir, "state"),
		"--", "/bin/sh", "-c", "touch "+marker)
	code, out := runOutput(t, cmd)
	if strings.Contains(out, "mount:") {
		t.Skipf("cannot make a read-only bind mount here: %s", out)
	}
	if code != 2 || !strings.Contains(out, "STASIS_IMAGE_DIR") || !strings.Contains(out, "read-only file system") {
		t.Fatalf("exit %d, want 2 naming STASIS_IMAGE_DIR as read-only:\n%s", code, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command was started")
	}
}
