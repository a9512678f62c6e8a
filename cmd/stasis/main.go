// Command stasis is PID 1 of a Java container: it starts the JVM, checkpoints
// it once it is ready and warm, and restores it on every later start.
//
// Every setting is a STASIS_* environment variable and the same setting as a
// flag; `stasis --help` lists them all. Only this package reads the
// environment and builds the logger.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"stasis/control"
	"stasis/stdio"
	"stasis/supervisor"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// Set with -ldflags -X by the Makefile.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	code, _ := exitCode(run(os.Args[1:], environMap(), os.Stdout, os.Stderr))
	os.Exit(code)
}

// run is stasis as a function of its arguments and environment. It has said
// why by the time it returns its error; exitCode turns that into the status.
func run(args []string, environ map[string]string, stdout, stderr io.Writer) error {
	started := time.Now()
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return tell(stderr, "stasis "+args[0], sub(args[1:], environ, stdout, stderr))
		}
	}
	cfg, ph, err := prepare(args, environ, stdout)
	if err != nil {
		return tell(stderr, "stasis", err)
	}
	ph.Started = started
	lw := newLogWriter(stderr)
	log := newLogger(cfg, stderr, lw)
	if m, ok := ph.Engine.(engine.Moder); ok && cfg.Mode != "restore" {
		// An engine's modes exclude each other (OpenJ9's two APIs): say
		// which one the JVM gets.
		setting, value, flags := m.Mode(ph.Opt)
		log.Info(ph.Engine.Name()+" mode", setting, value, "flags", flags)
	}
	err = initMain(cfg, ph, log)
	if _, why := exitCode(err); why != "" {
		log.Error(why)
	}
	lw.Flush(logFlushTimeout)
	return err
}

// prepare is everything before anything starts: the settings, what only
// this machine can show, and the engine. Its errors are bad input (exit 2).
func prepare(args []string, environ map[string]string, stdout io.Writer) (Config, *supervisor.Phases, error) {
	cfg, err := configure(args, environ, stdout)
	if err != nil {
		return cfg, nil, err
	}
	if cfg.Mode == "auto" || cfg.Mode == "restore" {
		// The image's bytes start coming into memory now, while stasis
		// checks its configuration and the image.
		go image.Prefetch(cfg.ImageDir)
	}
	ph := newPhases(cfg, environ)
	if err := checkHere(cfg, ph); err != nil {
		return cfg, nil, err
	}
	if err := resolvePhases(cfg, ph, environ); err != nil {
		return cfg, nil, err
	}
	return cfg, ph, nil
}

// logFlushTimeout is how long stasis's last log lines may take to reach a
// slow or blocked stderr before it exits anyway.
const logFlushTimeout = time.Second

// initMain is the init: signal handlers and the reaper first, then the
// control socket, then the phases.
func initMain(cfg Config, ph *supervisor.Phases, log *slog.Logger) (err error) {
	sup, err := supervisor.New(supervisor.Config{StopTimeout: cfg.StopTimeout, StopSignal: cfg.StopSignal}, log)
	if err != nil {
		return err
	}
	// No sup.Close(): stasis exits right after, and unregistering every
	// signal first would only add milliseconds to each container stop.
	// Descriptors stasis inherited must not reach the JVM or its image.
	if err := stdio.CloseInheritedOnExec(); err != nil {
		log.Warn("cannot mark inherited descriptors close-on-exec", "err", err)
	}
	if cfg.Mode != "run" {
		becomeSessionLeader(log)
	}
	// The control socket is set up beside the first child's start, not
	// before it: a plain init's start-up time is tini's peer in `make bench`.
	ctl := make(chan *control.Server, 1)
	go func() {
		srv, err := sup.ServeControl(cfg.StateDir, log)
		if perr := stateDirProblem(cfg.StateDir); err != nil && perr != nil {
			log.Error("no control socket: "+perr.Error(), "err", err)
		} else if err != nil {
			log.Warn("no control socket: stasis checkpoint, status and healthcheck will not answer", "err", err)
		}
		ctl <- srv
	}()
	defer func() {
		if srv := <-ctl; srv != nil {
			// The note first, then the socket goes: a healthcheck in
			// between sees one or the other, never "starting".
			if merr := control.MarkExited(cfg.StateDir, exitNote(err)); merr != nil {
				log.Debug("no exit note", "err", merr)
			}
			srv.Close()
		}
	}()
	return sup.RunPhases(context.Background(), ph)
}

// exitNote says how stasis ended, for the exit note `stasis healthcheck` reads.
func exitNote(err error) string {
	var exit *supervisor.ExitError
	if errors.As(err, &exit) {
		code, _ := exitCode(err)
		return fmt.Sprintf("%s, stasis exit status %d", err, code)
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func environMap() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				m[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return m
}

// goVersion is the toolchain that built stasis. runtime.Version rather
// than debug.ReadBuildInfo, which links a module-info parser for one string.
func goVersion() string { return runtime.Version() }
