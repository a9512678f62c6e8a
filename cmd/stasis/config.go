package main

import (
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"stasis/triggers"
)

// settings holds every setting as text, exactly as the environment or a flag
// gave it. The tags are the single source of truth: env name, flag name,
// default and help text; --help and the flag set are generated from them.
// validate turns settings into Config, naming the setting on any error.
type settings struct {
	Mode                 string `env:"STASIS_MODE" envDefault:"auto" flag:"mode" help:"auto, checkpoint, restore or run"`
	Engine               string `env:"STASIS_ENGINE" envDefault:"auto" flag:"engine" help:"auto, crac, warp, openj9 or criu"`
	ImageDir             string `env:"STASIS_IMAGE_DIR" envDefault:"/checkpoint" flag:"image-dir" help:"where the image, its manifest and its dump log live; a restore only reads it (it may be read-only, and shared by any number of restores)"`
	CheckpointOn         string `env:"STASIS_CHECKPOINT_ON" flag:"checkpoint-on" help:"when to checkpoint: http://H:P/PATH or https://H:P/PATH, tcp://H:P, log:REGEX, file:PATH, delay:DURATION, manual, app; comma-separated, all must hold"`
	CheckpointTimeout    string `env:"STASIS_CHECKPOINT_TIMEOUT" envDefault:"5m" flag:"checkpoint-timeout" help:"give up waiting for readiness or for the dump"`
	CheckpointDelay      string `env:"STASIS_CHECKPOINT_DELAY" envDefault:"0s" flag:"checkpoint-delay" help:"settle time after warm-up, before the checkpoint"`
	ProbeInsecure        string `env:"STASIS_PROBE_INSECURE" envDefault:"false" flag:"probe-insecure" help:"https probes and warm-up URLs on the loopback interface skip certificate verification (self-signed certificates)"`
	ProbeInterval        string `env:"STASIS_PROBE_INTERVAL" envDefault:"50ms" flag:"probe-interval" help:"how often readiness probes run"`
	WarmupURL            string `env:"STASIS_WARMUP_URL" flag:"warmup-url" help:"URL(s) to request before the checkpoint, comma-separated"`
	WarmupRequests       string `env:"STASIS_WARMUP_REQUESTS" envDefault:"0" flag:"warmup-requests" help:"how many warm-up requests"`
	WarmupConcurrency    string `env:"STASIS_WARMUP_CONCURRENCY" envDefault:"4" flag:"warmup-concurrency" help:"warm-up requests in flight at once"`
	WarmupDuration       string `env:"STASIS_WARMUP_DURATION" envDefault:"0s" flag:"warmup-duration" help:"or warm up for this long"`
	WarmupCmd            string `env:"STASIS_WARMUP_CMD" flag:"warmup-cmd" help:"or run this command as the warm-up (shell-like quoting, no shell)"`
	WarmupMinSuccess     string `env:"STASIS_WARMUP_MIN_SUCCESS" envDefault:"0.95" flag:"warmup-min-success" help:"share of warm-up requests (0 to 1) that must answer 2xx, else the checkpoint fails (exit 3)"`
	GCBeforeCheckpoint   string `env:"STASIS_GC_BEFORE_CHECKPOINT" envDefault:"true" flag:"gc-before-checkpoint" help:"criu engine: GC and trim the native heap first (smaller image)"`
	MinPID               string `env:"STASIS_MIN_PID" envDefault:"1000" flag:"min-pid" help:"the JVM's PID at checkpoint is above this"`
	OnRestoreFailure     string `env:"STASIS_ON_RESTORE_FAILURE" envDefault:"cold" flag:"on-restore-failure" help:"cold (start the JVM normally) or fail (exit 4)"`
	RestoreEnvMatch      string `env:"STASIS_RESTORE_ENV_MATCH" flag:"restore-env-match" help:"variable names, comma-separated, whose values must equal the checkpoint's, else start cold instead of restoring"`
	RestoreChecksums     string `env:"STASIS_RESTORE_CHECKSUMS" envDefault:"before" flag:"restore-checksums" help:"criu and openj9 engines: check the image's checksums before CRIU starts (before), or while CRIU restores, the JVM held until they pass (during)"`
	RestoreTimeout       string `env:"STASIS_RESTORE_TIMEOUT" envDefault:"60s" flag:"restore-timeout" help:"give up a restore that has not finished by then (a damaged image can hang CRIU)"`
	CRIU                 string `env:"STASIS_CRIU" flag:"criu" help:"criu binary; else $JAVA_HOME/lib/criu, else PATH"`
	CRaCResourcePolicies string `env:"STASIS_CRAC_RESOURCE_POLICIES" flag:"crac-resource-policies" help:"file passed as -Djdk.crac.resource-policies"`
	OpenJ9API            string `env:"STASIS_OPENJ9_API" envDefault:"criusupport" flag:"openj9-api" help:"openj9 engine: criusupport (-XX:+EnableCRIUSupport: CRIUSupport API, jcmd CRIU.checkpoint) or crac (-XX:CRaCCheckpointTo: org.crac, jcmd JDK.checkpoint)"`
	Health               string `env:"STASIS_HEALTH" flag:"health" help:"probe used by 'stasis healthcheck' (default: the http or tcp probe of STASIS_CHECKPOINT_ON)"`
	HealthTimeout        string `env:"STASIS_HEALTH_TIMEOUT" envDefault:"2s" flag:"health-timeout" help:"'stasis healthcheck' answers within this"`
	StopTimeout          string `env:"STASIS_STOP_TIMEOUT" envDefault:"10s" flag:"stop-timeout" help:"SIGKILL this long after a forwarded SIGTERM or SIGINT"`
	StopSignal           string `env:"STASIS_STOP_SIGNAL" envDefault:"SIGTERM" flag:"stop-signal" help:"what a received SIGTERM is forwarded as, and what leftover processes get first"`
	StateDir             string `env:"STASIS_STATE_DIR" envDefault:"/run/stasis" flag:"state-dir" help:"control socket, and everything a restore writes (CRIU's log and work files, the pidfile); must be writable (Kubernetes: an emptyDir)"`
	LogFormat            string `env:"STASIS_LOG_FORMAT" envDefault:"text" flag:"log-format" help:"text or json"`
	LogLevel             string `env:"STASIS_LOG_LEVEL" envDefault:"info" flag:"log-level" help:"debug, info, warn or error"`
}

// Config is the validated configuration that packages receive.
type Config struct {
	Mode, Engine, ImageDir string
	CheckpointOn           string
	Spec                   triggers.Spec
	CheckpointTimeout      time.Duration
	CheckpointDelay        time.Duration
	ProbeInterval          time.Duration
	ProbeInsecure          bool
	WarmupURLs             []string
	WarmupRequests         int
	WarmupConcurrency      int
	WarmupDuration         time.Duration
	WarmupCmd              []string
	WarmupMinSuccess       float64
	GCBeforeCheckpoint     bool
	MinPID                 int
	OnRestoreFailure       string
	RestoreEnvMatch        []string
	RestoreTimeout         time.Duration
	RestoreChecksums       string
	CRIU                   string
	CRaCResourcePolicies   string
	OpenJ9API              string
	Health                 string
	HealthTimeout          time.Duration
	StopTimeout            time.Duration
	StopSignal             syscall.Signal
	StateDir               string
	LogFormat              string
	LogLevel               slog.Level
	Command                []string
}

// ConfigError is a bad setting: stasis prints it as one line and exits 2.
// Setting is empty when the environment as a whole could not be read.
type ConfigError struct {
	Setting, Value, Problem string
}

func (e *ConfigError) Error() string {
	if e.Setting == "" {
		return e.Problem
	}
	return fmt.Sprintf("%s=%q: %s", e.Setting, e.Value, e.Problem)
}

func loadEnv(environ map[string]string) (settings, error) {
	var s settings
	if err := env.ParseWithOptions(&s, env.Options{Environment: environ}); err != nil {
		return s, &ConfigError{Problem: err.Error()}
	}
	return s, nil
}

// field is one setting as the struct tags describe it.
type field struct {
	Env, Flag, Default, Help string
	ptr                      *string
}

func (s *settings) fields() []field {
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	out := make([]field, t.NumField())
	for i := range out {
		tag := t.Field(i).Tag
		out[i] = field{
			Env: tag.Get("env"), Flag: tag.Get("flag"),
			Default: tag.Get("envDefault"), Help: tag.Get("help"),
			ptr: v.Field(i).Addr().Interface().(*string),
		}
	}
	return out
}

func isOneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (true or false)")
}

// parseDuration accepts Go durations ("250ms", "1m30s") and a bare "0".
// Negative durations are rejected: every duration here is a wait or a bound.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration (like 500ms, 10s or 5m)")
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration")
	}
	return d, nil
}

func parseCount(v string, min, max int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("not a whole number")
	}
	if n < min || n > max {
		return 0, fmt.Errorf("out of range %d..%d", min, max)
	}
	return n, nil
}

// parseShare accepts a share from 0 to 1 ("0.95"), or a percentage ("95%").
func parseShare(v string) (float64, error) {
	v = strings.TrimSpace(v)
	scale := 1.0
	if p, ok := strings.CutSuffix(v, "%"); ok {
		v, scale = strings.TrimSpace(p), 100
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return 0, fmt.Errorf("not a number (a share like 0.95, or 95%%)")
	}
	f /= scale
	if f < 0 || f > 1 {
		return 0, fmt.Errorf("out of range 0..1 (or 0%%..100%%)")
	}
	return f, nil
}

func parseLevel(v string) (slog.Level, error) {
	var l slog.Level
	if !isOneOf(strings.ToLower(v), "debug", "info", "warn", "error") {
		return 0, fmt.Errorf("unknown level (debug, info, warn or error)")
	}
	err := l.UnmarshalText([]byte(v))
	return l, err
}
