package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeRow is one settings row as the README and `stasis --help` must both show it. The
// README writes quoted commands in backticks where --help has single quotes.
func readmeRow(f field) string {
	d := f.Default
	if d == "" {
		d = "-"
	}
	return fmt.Sprintf("| %s | --%s | %s | %s |", f.Env, f.Flag, d, f.Help)
}

// TestREADMESettingsAreHelp: the README says `stasis --help` prints its settings table; the
// table holds exactly the settings, in --help's order, with --help's defaults and meanings
// (the struct tags are the single source of truth), so the two cannot drift apart.
func TestREADMESettingsAreHelp(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "| variable | flag | default | meaning |"):
			in = true
		case in && strings.HasPrefix(l, "|---"):
		case in && strings.HasPrefix(l, "| "):
			rows = append(rows, strings.ReplaceAll(l, "`", "'"))
		case in:
			in = false
		}
	}
	var s settings
	fields := s.fields()
	if len(rows) != len(fields) {
		t.Errorf("README's settings table has %d rows, --help %d settings", len(rows), len(fields))
	}
	for i, f := range fields {
		want := readmeRow(f)
		if i >= len(rows) || rows[i] != want {
			got := "(none)"
			if i < len(rows) {
				got = rows[i]
			}
			t.Errorf("README settings row %d:\n got %s\nwant %s", i+1, got, want)
		}
	}
}
