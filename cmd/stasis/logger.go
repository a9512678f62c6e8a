package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/lmittmann/tint"
)

// newLogger builds stasis's logger on stderr. Text lines start with
// "stasis" and a short time, in colour only on a terminal without NO_COLOR,
// so they stand apart from the JVM's own output; JSON lines carry
// "source":"stasis" for log pipelines.
// The lines go through out, which never blocks (see logWriter); w is what it
// writes to, checked for a terminal.
func newLogger(cfg Config, w, out io.Writer) *slog.Logger {
	if cfg.LogFormat == "json" {
		h := slog.NewJSONHandler(out, &slog.HandlerOptions{Level: cfg.LogLevel})
		return slog.New(h).With("source", "stasis")
	}
	h := tint.NewHandler(out, &tint.Options{
		Level:      cfg.LogLevel,
		TimeFormat: "15:04:05.000",
		NoColor:    !colorful(w),
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				// The time column becomes "stasis 12:00:00.000".
				return slog.String(a.Key, "stasis "+a.Value.Time().Format("15:04:05.000"))
			}
			return a
		},
	})
	return slog.New(h)
}

func colorful(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isTerminal(f)
}
