package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"stasis/control"
	"stasis/healthcheck"
	"stasis/supervisor"
)

// subConfig reads the settings a subcommand shares with the init, from the
// environment (docker exec and Kubernetes exec probes see the container's)
// and then from flags, which win as for the init. A subcommand has no
// command to run, so validate gets a stand-in and Command is cleared. extra
// adds the subcommand's own flags; the arguments left are returned.
func subConfig(name string, args []string, environ map[string]string, stdout io.Writer, extra func(*flag.FlagSet)) (Config, []string, error) {
	return subConfigLenient(name, args, environ, stdout, extra, nil)
}

// subConfigLenient is subConfig that, with lenient set, hands a
// configuration error back there instead of returning it.
func subConfigLenient(name string, args []string, environ map[string]string, stdout io.Writer, extra func(*flag.FlagSet), lenient *error) (Config, []string, error) {
	s, err := loadEnv(environ)
	if err != nil {
		return Config{}, nil, err
	}
	fs := flag.NewFlagSet("stasis "+name, flag.ContinueOnError)
	// A bad flag is one line (below), not the flag package's usage dump;
	// -h prints the usage on stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, f := range s.fields() {
		fs.StringVar(f.ptr, f.Flag, *f.ptr, f.Help)
	}
	if extra != nil {
		extra(fs)
	}
	if err := missingValue(fs, args); err != nil {
		return Config{}, nil, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage of stasis %s:\n", name)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return Config{}, nil, errHelpShown
		}
		return Config{}, nil, &UsageError{Problem: flagProblem(err)}
	}
	cfg, err := validate(s, []string{"-"})
	if err != nil {
		if lenient == nil {
			return Config{}, nil, err
		}
		*lenient = err // the doctor reports it and goes on
	}
	cfg.Command = nil
	return cfg, fs.Args(), nil
}

// askStatus asks the running stasis for its Status over the control socket.
func askStatus(ctx context.Context, stateDir, op string) (supervisor.Status, error) {
	var st supervisor.Status
	resp, err := control.Call(ctx, stateDir, control.Request{Op: op})
	if err != nil {
		return st, err
	}
	if !resp.OK {
		return st, fmt.Errorf("stasis refused %q: %s", op, resp.Error)
	}
	if err := json.Unmarshal(resp.Data, &st); err != nil {
		return st, fmt.Errorf("decode %q reply: %w", op, err)
	}
	return st, nil
}

// cmdHealthcheck is `stasis healthcheck`: exit 0 when the JVM runs and its
// health probe passes, else 1 with one line saying why. Everything, the
// question to stasis and the probe, fits in STASIS_HEALTH_TIMEOUT: an exec
// probe that hangs is worse than one that fails.
func cmdHealthcheck(args []string, environ map[string]string, stdout, stderr io.Writer) error {
	cfg, rest, err := subConfig("healthcheck", args, environ, stdout, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	ctx := context.Background()
	if cfg.HealthTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.HealthTimeout)
		defer cancel()
	}
	// The verdict is the answer, on stdout either way.
	st, err := askStatus(ctx, cfg.StateDir, control.OpHealth)
	if err != nil {
		fmt.Fprintf(stdout, "unhealthy: %s\n", noAnswer(cfg.StateDir, err))
		return errNotOK
	}
	probe, err := healthProbe(cfg, st)
	if err != nil {
		fmt.Fprintf(stdout, "unhealthy: %v\n", err)
		return errNotOK
	}
	v := healthcheck.Judge(ctx, healthcheck.Phase{Phase: st.Phase, Start: st.Start, RestoreError: st.RestoreError}, probe)
	if !v.Healthy {
		fmt.Fprintf(stdout, "unhealthy: %s\n", v.Reason)
		return errNotOK
	}
	fmt.Fprintln(stdout, v.Reason)
	return nil
}

// healthProbe is STASIS_HEALTH as this process sees it, else the probe the
// running stasis reports (its flags may have set it), else the http or tcp
// probe of STASIS_CHECKPOINT_ON; nil when there is none.
func healthProbe(cfg Config, st supervisor.Status) (healthcheck.Probe, error) {
	spec := cfg.Health
	if spec == "" {
		spec = st.Health
	}
	if spec == "" {
		spec = healthSpec(cfg)
	}
	if spec == "" {
		return nil, nil
	}
	p, err := healthcheck.ParseProbe(spec)
	if err != nil {
		return nil, fmt.Errorf("STASIS_HEALTH: %w", err)
	}
	healthcheck.SetInsecure(p, cfg.ProbeInsecure)
	return p, nil
}

// noAnswer words a failed control call for people: no socket usually means
// stasis has not started yet, or runs with another STASIS_STATE_DIR.
func noAnswer(stateDir string, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist) && stateDirProblem(stateDir) != nil:
		return stateDirProblem(stateDir).Error() // it never will be there
	case errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "connection refused"):
		if how, ok := control.Exited(stateDir); ok {
			return "stopped: stasis exited (" + how + ")"
		}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("starting: no control socket at %s yet (is stasis PID 1 with STASIS_STATE_DIR=%s?)", control.SocketPath(stateDir), stateDir)
	case errors.Is(err, context.DeadlineExceeded):
		return "stasis did not answer within STASIS_HEALTH_TIMEOUT: " + err.Error()
	case strings.Contains(err.Error(), "connection refused"):
		return "stasis is not running: " + err.Error()
	}
	return err.Error()
}
