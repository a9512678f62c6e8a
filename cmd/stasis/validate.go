package main

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"stasis/healthcheck"
	"stasis/supervisor"
	"stasis/supervisor/engine"
	"stasis/triggers"
)

// validate checks every setting and builds Config. It returns the first bad
// setting as a *ConfigError; errors are reported by environment variable
// name even when a flag set the value, since that is the name in the docs.
func validate(s settings, command []string) (Config, error) {
	v := &validator{}
	c := Config{
		Mode:                 v.oneOf("STASIS_MODE", s.Mode, "auto", "checkpoint", "restore", "run"),
		Engine:               v.oneOf("STASIS_ENGINE", s.Engine, append([]string{"auto"}, engine.Names()...)...),
		ImageDir:             v.path("STASIS_IMAGE_DIR", s.ImageDir),
		CheckpointOn:         strings.TrimSpace(s.CheckpointOn),
		CheckpointTimeout:    v.duration("STASIS_CHECKPOINT_TIMEOUT", s.CheckpointTimeout),
		CheckpointDelay:      v.duration("STASIS_CHECKPOINT_DELAY", s.CheckpointDelay),
		ProbeInterval:        v.duration("STASIS_PROBE_INTERVAL", s.ProbeInterval),
		ProbeInsecure:        v.boolean("STASIS_PROBE_INSECURE", s.ProbeInsecure),
		WarmupRequests:       v.count("STASIS_WARMUP_REQUESTS", s.WarmupRequests, 0, math.MaxInt32),
		WarmupConcurrency:    v.count("STASIS_WARMUP_CONCURRENCY", s.WarmupConcurrency, 1, 4096),
		WarmupDuration:       v.duration("STASIS_WARMUP_DURATION", s.WarmupDuration),
		WarmupCmd:            v.words("STASIS_WARMUP_CMD", s.WarmupCmd),
		WarmupMinSuccess:     v.share("STASIS_WARMUP_MIN_SUCCESS", s.WarmupMinSuccess),
		GCBeforeCheckpoint:   v.boolean("STASIS_GC_BEFORE_CHECKPOINT", s.GCBeforeCheckpoint),
		MinPID:               v.count("STASIS_MIN_PID", s.MinPID, 0, 1<<22),
		OnRestoreFailure:     v.oneOf("STASIS_ON_RESTORE_FAILURE", s.OnRestoreFailure, "cold", "fail"),
		RestoreEnvMatch:      v.names("STASIS_RESTORE_ENV_MATCH", s.RestoreEnvMatch),
		RestoreTimeout:       v.duration("STASIS_RESTORE_TIMEOUT", s.RestoreTimeout),
		RestoreChecksums:     v.oneOf("STASIS_RESTORE_CHECKSUMS", s.RestoreChecksums, "during", "before"),
		CRIU:                 s.CRIU,
		CRaCResourcePolicies: s.CRaCResourcePolicies,
		OpenJ9API:            v.oneOf("STASIS_OPENJ9_API", s.OpenJ9API, engine.OpenJ9APIs()...),
		Health:               strings.TrimSpace(s.Health),
		HealthTimeout:        v.duration("STASIS_HEALTH_TIMEOUT", s.HealthTimeout),
		StopTimeout:          v.duration("STASIS_STOP_TIMEOUT", s.StopTimeout),
		StateDir:             v.path("STASIS_STATE_DIR", s.StateDir),
		LogFormat:            v.oneOf("STASIS_LOG_FORMAT", s.LogFormat, "text", "json"),
		Command:              command,
	}
	c.LogLevel = v.level("STASIS_LOG_LEVEL", s.LogLevel)
	if sig, err := supervisor.ParseSignal(s.StopSignal); err != nil {
		v.fail("STASIS_STOP_SIGNAL", s.StopSignal, err.Error())
	} else {
		c.StopSignal = sig
	}
	for _, d := range []struct {
		setting, value string
		d              time.Duration
	}{{"STASIS_PROBE_INTERVAL", s.ProbeInterval, c.ProbeInterval},
		{"STASIS_CHECKPOINT_TIMEOUT", s.CheckpointTimeout, c.CheckpointTimeout},
		{"STASIS_RESTORE_TIMEOUT", s.RestoreTimeout, c.RestoreTimeout}} {
		if d.d == 0 {
			v.fail(d.setting, d.value, "must be greater than 0")
		}
	}
	// The warm-up command is looked for by checkHere, only where this start
	// is a checkpoint run: a restore may run in an image without the load tool.
	if c.ImageDir != "" {
		if sys := systemDir(c.ImageDir); sys != "" {
			v.fail("STASIS_IMAGE_DIR", s.ImageDir, fmt.Sprintf("%s is a system directory: give the image a directory of its own, such as /checkpoint", sys))
		}
	}
	v.checkpointSettings(&c, s)
	return c, v.err
}

// validator keeps the first error, so validate reads as a list of settings.
type validator struct{ err error }

func (v *validator) fail(setting, value, problem string) {
	if v.err == nil {
		v.err = &ConfigError{Setting: setting, Value: value, Problem: problem}
	}
}

func (v *validator) usage(problem string) {
	if v.err == nil {
		v.err = &UsageError{Problem: problem}
	}
}

func (v *validator) oneOf(setting, value string, allowed ...string) string {
	if !isOneOf(value, allowed...) {
		v.fail(setting, value, "must be one of "+strings.Join(allowed, ", "))
	}
	return value
}

func (v *validator) path(setting, value string) string {
	if !strings.HasPrefix(value, "/") {
		v.fail(setting, value, "must be an absolute path")
	}
	return value
}

func (v *validator) duration(setting, value string) time.Duration {
	d, err := parseDuration(value)
	if err != nil {
		v.fail(setting, value, err.Error())
	}
	return d
}

func (v *validator) count(setting, value string, min, max int) int {
	n, err := parseCount(value, min, max)
	if err != nil {
		v.fail(setting, value, err.Error())
	}
	return n
}

func (v *validator) boolean(setting, value string) bool {
	b, err := parseBool(value)
	if err != nil {
		v.fail(setting, value, err.Error())
	}
	return b
}

func (v *validator) words(setting, value string) []string {
	w, err := splitWords(value)
	if err != nil {
		v.fail(setting, value, err.Error())
	}
	return w
}

// names parses a comma-separated list of environment variable names.
func (v *validator) names(setting, value string) []string {
	var out []string
	for _, n := range strings.Split(value, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, "= \t\x00") {
			v.fail(setting, value, fmt.Sprintf("%q is not a variable name", n))
			return nil
		}
		out = append(out, n)
	}
	return out
}

func (v *validator) share(setting, value string) float64 {
	f, err := parseShare(value)
	if err != nil {
		v.fail(setting, value, err.Error())
	}
	return f
}

func (v *validator) level(setting, value string) slog.Level {
	l, err := parseLevel(value)
	if err != nil {
		v.fail(setting, value, err.Error())
	}
	return l
}

// checkpointSettings holds the checks that involve the phases: the trigger
// specs and warm-up URLs are parsed here so a typo fails before anything starts.
func (v *validator) checkpointSettings(c *Config, s settings) {
	spec, err := triggers.ParseSpec(s.CheckpointOn)
	if err != nil {
		v.fail("STASIS_CHECKPOINT_ON", s.CheckpointOn, err.Error())
	}
	c.Spec = spec
	facts, _ := engine.FactsOf(c.Engine) // zero for auto
	if c.Mode == "checkpoint" && spec.Empty() && !facts.SelfTriggered {
		v.fail("STASIS_CHECKPOINT_ON", s.CheckpointOn, "checkpoint mode needs a trigger (for example http://127.0.0.1:8080/health, or manual)")
	}
	if spec.IsApp() && c.Engine != "auto" && !facts.AppTrigger {
		appEngines := engine.NamesWith(func(f engine.Facts) bool { return f.AppTrigger })
		v.fail("STASIS_CHECKPOINT_ON", s.CheckpointOn, "app needs a JVM that checkpoints itself (engine "+orList(appEngines)+"); with the "+c.Engine+" engine stasis dumps the JVM and needs a readiness condition")
	}
	if facts.SelfTriggered && spec.Empty() {
		c.Spec, _ = triggers.ParseSpec("app") // the application checkpoints itself
	}
	if urls, err := triggers.ParseURLs(s.WarmupURL); err != nil {
		v.fail("STASIS_WARMUP_URL", s.WarmupURL, err.Error())
	} else {
		c.WarmupURLs = urls
	}
	if c.Health != "" {
		if _, err := healthcheck.ParseProbe(c.Health); err != nil {
			v.fail("STASIS_HEALTH", c.Health, err.Error())
		}
	}
	if c.ProbeInsecure {
		v.insecureTargets(c, s)
		c.Spec.SetInsecure(true)
	}
	if len(c.Command) == 0 {
		v.usage("no command given: usage: stasis [flags] -- CMD [ARGS...]")
	} else if c.Command[0] == "" {
		v.usage("the command's name is empty: usage: stasis [flags] -- CMD [ARGS...]")
	}
}

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// systemDirs are directories of the operating system, and so never an image
// directory: a checkpoint run owns the engine's files in its image
// directory, and a failed one removes them. Their subdirectories are the
// system's too when listed with a trailing slash.
var systemDirs = []string{"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
	"/libx32", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
	"/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/usr/share", "/var", "/var/lib",
	"/dev/", "/proc/", "/sys/", "/etc/", "/boot/"}

// systemDir returns the system directory that dir is, or lies in, or "".
func systemDir(dir string) string {
	dir = filepath.Clean(dir)
	for _, sys := range systemDirs {
		if under, ok := strings.CutSuffix(sys, "/"); ok && under != "" {
			if dir == under || strings.HasPrefix(dir, sys) {
				return under
			}
			continue
		}
		if dir == sys {
			return sys
		}
	}
	return ""
}

// insecureTargets refuses STASIS_PROBE_INSECURE=true when an https target
// is not on the loopback interface: skipping verification is for the
// self-signed certificate of this container's own JVM, never for a service
// elsewhere.
func (v *validator) insecureTargets(c *Config, s settings) {
	var urls []string
	for _, cond := range c.Spec.Conditions {
		urls = append(urls, cond.Raw)
	}
	urls = append(append(urls, c.Health), c.WarmupURLs...)
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" {
			continue
		}
		if !healthcheck.IsLoopbackHost(u.Hostname()) {
			v.fail("STASIS_PROBE_INSECURE", s.ProbeInsecure, fmt.Sprintf("applies to loopback targets only (127.0.0.1, ::1, localhost), and %s is not one: remove it, or give the service a certificate that verifies", raw))
			return
		}
	}
}
