package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"stasis/supervisor"
)

// checkHere finds the configuration errors that only this machine can show
// (a path that is a file or read-only, a PID limit, a missing tool), before
// anything starts: each is one line naming the setting, exit 2. It is for
// the init only: `stasis healthcheck` must work in a container whose image
// directory is read-only.
func checkHere(cfg Config, ph *supervisor.Phases) error {
	if cfg.Mode == "run" {
		return nil
	}
	if fi, err := os.Stat(cfg.ImageDir); err == nil && !fi.IsDir() {
		return &ConfigError{Setting: "STASIS_IMAGE_DIR", Value: cfg.ImageDir, Problem: "not a directory"}
	}
	if err := checkMinPID(cfg.MinPID, "/proc/sys/kernel/pid_max"); err != nil {
		return err
	}
	if supervisor.Plan(ph.PlanInput()).Wants != supervisor.ActCheckpoint {
		return nil // only a checkpoint run writes the image, runs the warm-up, takes `stasis checkpoint`
	}
	if err := writable(cfg.ImageDir); err != nil {
		return &ConfigError{Setting: "STASIS_IMAGE_DIR", Value: cfg.ImageDir, Problem: "a checkpoint run writes the image there: " + err.Error()}
	}
	if len(cfg.WarmupCmd) > 0 {
		if _, err := exec.LookPath(cfg.WarmupCmd[0]); err != nil {
			return &ConfigError{Setting: "STASIS_WARMUP_CMD", Value: strings.Join(cfg.WarmupCmd, " "),
				Problem: fmt.Sprintf("%s: not found or not executable (this start is the checkpoint run)", cfg.WarmupCmd[0])}
		}
	}
	if cfg.Spec.IsManual() {
		if err := writable(cfg.StateDir); err != nil {
			return &ConfigError{Setting: "STASIS_STATE_DIR", Value: cfg.StateDir,
				Problem: "STASIS_CHECKPOINT_ON=manual needs the control socket there: " + err.Error()}
		}
	}
	return nil
}

// checkMinPID refuses a STASIS_MIN_PID the kernel's pid_max never reaches:
// the JVM could not get a PID above it. An unreadable pid_max says nothing.
func checkMinPID(minPID int, pidMaxFile string) error {
	b, err := os.ReadFile(pidMaxFile)
	if err != nil {
		return nil
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || minPID < max {
		return nil
	}
	return &ConfigError{Setting: "STASIS_MIN_PID", Value: strconv.Itoa(minPID),
		Problem: fmt.Sprintf("at or above this kernel's pid_max (%d): no PID above it exists", max)}
}

// writable says why stasis could not create files in dir: dir, or the
// nearest directory above it that exists (stasis would create the rest), is
// not a directory, read-only, or not writable by this user.
func writable(dir string) error {
	p := filepath.Clean(dir)
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", p)
			}
			if err := canWrite(p); err != nil {
				return fmt.Errorf("%s is not writable: %w", p, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		up := filepath.Dir(p)
		if up == p {
			return nil
		}
		p = up
	}
}
