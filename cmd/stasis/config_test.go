package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFlagWinsOverEnvironment(t *testing.T) {
	cfg, err := configure([]string{"--stop-timeout=3s", "--", "java", "-version"},
		map[string]string{"STASIS_STOP_TIMEOUT": "7s", "STASIS_LOG_LEVEL": "debug"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StopTimeout != 3*time.Second {
		t.Errorf("StopTimeout = %v, want the flag's 3s", cfg.StopTimeout)
	}
	if cfg.LogLevel.String() != "DEBUG" {
		t.Errorf("LogLevel = %v, want the environment's debug", cfg.LogLevel)
	}
	if strings.Join(cfg.Command, " ") != "java -version" {
		t.Errorf("Command = %q", cfg.Command)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := configure([]string{"true"}, map[string]string{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != "auto" || cfg.Engine != "auto" || cfg.ImageDir != "/checkpoint" ||
		cfg.StopTimeout != 10*time.Second || cfg.MinPID != 1000 || !cfg.GCBeforeCheckpoint ||
		cfg.CheckpointTimeout != 5*time.Minute || cfg.WarmupConcurrency != 4 || cfg.WarmupMinSuccess != 0.95 || cfg.StateDir != "/run/stasis" {
		t.Fatalf("defaults differ from PRODUCT.md: %+v", cfg)
	}
}

// badSettings are values that must be refused with exit 2, naming the setting.
var badSettings = []struct {
	env, val string
	args     []string
}{
	{"STASIS_STOP_TIMEOUT", "abc", nil},
	{"STASIS_STOP_TIMEOUT", "-1s", nil},
	{"STASIS_LOG_FORMAT", "xml", nil},
	{"STASIS_LOG_LEVEL", "loud", nil},
	{"STASIS_MODE", "sometimes", nil},
	{"STASIS_ENGINE", "graal", nil},
	{"STASIS_MIN_PID", "ten", nil},
	{"STASIS_MIN_PID", "-5", nil},
	{"STASIS_ON_RESTORE_FAILURE", "retry", nil},
	{"STASIS_OPENJ9_API", "jdk", nil},
	{"STASIS_GC_BEFORE_CHECKPOINT", "maybe", nil},
	{"STASIS_WARMUP_CONCURRENCY", "0", nil},
	{"STASIS_WARMUP_MIN_SUCCESS", "1.5", nil},
	{"STASIS_RESTORE_ENV_MATCH", "DB_URL,A=B", nil},
	{"STASIS_PROBE_INSECURE", "true", []string{"--checkpoint-on=https://10.1.2.3:8443/ready"}},
	{"STASIS_PROBE_INSECURE", "true", []string{"--warmup-url=https://service.example:8443/"}},
	{"STASIS_PROBE_INSECURE", "sometimes", nil},
	{"STASIS_WARMUP_MIN_SUCCESS", "most", nil},
	{"STASIS_WARMUP_MIN_SUCCESS", "NaN", nil},
	{"STASIS_WARMUP_CMD", `wrk "unterminated`, nil},
	{"STASIS_WARMUP_URL", "http://[::1", nil},
	{"STASIS_WARMUP_URL", "ftp://127.0.0.1/x", nil},
	{"STASIS_IMAGE_DIR", "relative/dir", nil},
	{"STASIS_STOP_SIGNAL", "SIGNOPE", nil},
	{"STASIS_PROBE_INTERVAL", "0s", nil},
	{"STASIS_CHECKPOINT_ON", "", []string{"--mode=checkpoint"}},
	{"STASIS_CHECKPOINT_TIMEOUT", "0", nil},
	{"STASIS_RESTORE_TIMEOUT", "0s", nil},
	{"STASIS_RESTORE_CHECKSUMS", "after", nil},
	{"STASIS_CRIU", "/nonexistent/criu", nil},
	{"STASIS_WARMUP_CMD", "/nonexistent/warm -c 4", []string{"--mode=checkpoint", "--checkpoint-on=manual"}},
	{"STASIS_CHECKPOINT_ON", "app", []string{"--engine=criu"}},
	{"flags", "no-such-flag", []string{"--no-such-flag"}},
}

func TestBadSettingsExit2AndStartNothing(t *testing.T) {
	for _, bad := range badSettings {
		t.Run(bad.env+"="+bad.val, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "started")
			args := append(append([]string{}, bad.args...), "--", "/bin/sh", "-c", "touch "+marker)
			cmd := exec.Command(stasisBin, args...)
			cmd.Env = os.Environ()
			if bad.env != "flags" {
				cmd.Env = append(cmd.Env, bad.env+"="+bad.val)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; stderr: %s", err, stderr.String())
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the command was started despite the bad setting")
			}
			msg := strings.TrimRight(stderr.String(), "\n")
			if strings.Count(msg, "\n") != 0 {
				t.Fatalf("want one line, got:\n%s", msg)
			}
			name := bad.env
			if name == "flags" {
				name = "flag"
			}
			if !strings.Contains(msg, name) || !strings.Contains(msg, strings.Trim(strconv.Quote(bad.val), `"`)) {
				t.Fatalf("message %q does not name %s and %q", msg, bad.env, bad.val)
			}
			if name != "flag" && strings.Count(msg, name) != 1 {
				t.Errorf("message %q names %s more than once", msg, name)
			}
		})
	}
}

func TestNoCommandExits2(t *testing.T) {
	for _, args := range [][]string{{}, {"--"}, {"--stop-timeout=1s", "--"}} {
		var out, errb bytes.Buffer
		if code := runCode(args, map[string]string{}, &out, &errb); code != 2 {
			t.Fatalf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errb.String(), "no command") {
			t.Fatalf("%q: message %q", args, errb.String())
		}
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if code := runCode([]string{"--help"}, map[string]string{}, &out, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	var s settings
	for _, f := range s.fields() {
		for _, want := range []string{f.Env, "--" + f.Flag, f.Help} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("--help lacks %q", want)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(stasisBin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "stasis ") || !strings.Contains(string(out), "go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string]string{
		`wrk -c 4 http://x/`:         "wrk|-c|4|http://x/",
		`sh -c 'echo "a b"; exit 3'`: `sh|-c|echo "a b"; exit 3`,
		`a\ b "c\"d" ''`:             `a b|c"d|`,
		"  ":                         "",
	} {
		w, err := splitWords(in)
		if err != nil || strings.Join(w, "|") != want {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, strings.Join(w, "|"), err, want)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "10s", "1m30s", "-1s", "abc", "1e9", "9999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("parseDuration(%q) = %v: negative accepted", s, d)
		}
	})
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{`a 'b c' "d\"e"`, `\`, `'`, `"`, "x\ty\nz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := splitWords(s)
		if err != nil {
			return
		}
		for _, word := range w {
			if strings.ContainsAny(word, "\x00") && !strings.Contains(s, "\x00") {
				t.Fatalf("invented a NUL: %q", w)
			}
		}
	})
}

func FuzzParseShare(f *testing.F) {
	for _, s := range []string{"0.95", "95%", "1", "0", "-0.1", "NaN", "1e-3", "100 %", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseShare(s)
		if err == nil && (v < 0 || v > 1 || v != v) {
			t.Fatalf("parseShare(%q) = %v, outside 0..1", s, v)
		}
	})
}
