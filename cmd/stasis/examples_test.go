package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"stasis/internal/fakejdktest"
	"stasis/supervisor/engine"
)

// The examples' Dockerfiles are checked as far as this machine allows without their base
// images (no Zulu, Warp or Semeru image can be pulled here): each parses; each stasis command
// line in them (the ENTRYPOINT, and a RUN step that is the checkpoint run) is accepted by
// stasis's own configuration with the Dockerfile's ENV, exactly as the binary would read it;
// every STASIS_ variable is one `stasis --help` lists; the engine accepts the command and no
// flag of the command contradicts one the engine sets; and a checkpoint step's command is the
// ENTRYPOINT's, since an image is restored only for the command it was made for. The criu and
// build-step examples also run for real, in e2e.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line    int
	keyword string
	args    string
}

var dockerfileKeywords = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
	"HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

// parseDockerfile splits a Dockerfile into instructions, as the Dockerfile reference
// describes its format: `#` lines are comments (also inside a continued instruction), a
// trailing backslash continues an instruction, and every instruction starts with a keyword.
// A continuation may not run past the end of the file.
func parseDockerfile(data string) ([]instruction, error) {
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(data, "\n") {
		line := strings.TrimSpace(raw)
		// Blank lines inside a continued instruction are skipped too, as builders do.
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if cur == nil {
			kw, rest, _ := strings.Cut(line, " ")
			if !slices.Contains(dockerfileKeywords, strings.ToUpper(kw)) {
				return nil, fmt.Errorf("line %d: unknown instruction %q", i+1, kw)
			}
			cur = &instruction{line: i + 1, keyword: strings.ToUpper(kw)}
			line = strings.TrimSpace(rest)
		}
		if strings.HasSuffix(line, `\`) {
			cur.args += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		cur.args = strings.TrimSpace(cur.args + line)
		if cur.args == "" {
			return nil, fmt.Errorf("line %d: %s without arguments", cur.line, cur.keyword)
		}
		out = append(out, *cur)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: %s continues past the end of the file", cur.line, cur.keyword)
	}
	return out, nil
}

// execForm decodes a JSON array form ([...]); ok is false for the shell form.
func execForm(args string) (argv []string, ok bool, err error) {
	if !strings.HasPrefix(args, "[") {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		return nil, true, fmt.Errorf("exec form %s: %w", args, err)
	}
	return argv, true, nil
}

// runFlags strips a RUN instruction's own flags (--mount=..., --security=..., --network=...).
func runFlags(args string) string {
	for strings.HasPrefix(args, "--") {
		_, rest, _ := strings.Cut(args, " ")
		args = strings.TrimSpace(rest)
	}
	return args
}

// stage is one FROM ... of a Dockerfile, with the environment it has built up.
type stage struct {
	env        map[string]string
	entrypoint []string
	steps      []stasisLine // RUN steps that run stasis
}

// stasisLine is a stasis command line found in a RUN step, with its inline variables.
type stasisLine struct {
	line int
	env  map[string]string
	argv []string
}

// stages walks the instructions, tracking each stage's environment (a stage built FROM an
// earlier one starts with its environment) and the stasis command lines in it.
func stages(t *testing.T, ins []instruction) []*stage {
	t.Helper()
	named := map[string]*stage{}
	var all []*stage
	var cur *stage
	for _, in := range ins {
		switch in.keyword {
		case "FROM":
			f := strings.Fields(in.args)
			cur = &stage{env: map[string]string{}}
			if parent, ok := named[f[0]]; ok {
				for k, v := range parent.env {
					cur.env[k] = v
				}
				cur.entrypoint = parent.entrypoint
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				named[f[2]] = cur
			}
			all = append(all, cur)
		case "ENV":
			words, err := splitWords(in.args)
			if err != nil {
				t.Fatalf("line %d: ENV %s: %v", in.line, in.args, err)
			}
			for _, w := range words {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					t.Fatalf("line %d: ENV %q is not NAME=VALUE", in.line, w)
				}
				cur.env[k] = v
			}
		case "ENTRYPOINT":
			argv, ok, err := execForm(in.args)
			if err != nil || !ok {
				t.Fatalf("line %d: ENTRYPOINT must be an exec form (stasis is PID 1): %v", in.line, err)
			}
			cur.entrypoint = argv
		case "RUN":
			if run, ok := stasisStep(t, in); ok {
				cur.steps = append(cur.steps, run)
			}
		case "CMD", "HEALTHCHECK":
			if _, _, err := execForm(strings.TrimPrefix(healthCmd(in), "CMD ")); err != nil {
				t.Fatalf("line %d: %v", in.line, err)
			}
		}
	}
	return all
}

// healthCmd is the command part of a HEALTHCHECK (after its options) or a CMD's arguments.
func healthCmd(in instruction) string {
	if in.keyword != "HEALTHCHECK" {
		return in.args
	}
	if i := strings.Index(in.args, "CMD "); i >= 0 {
		return in.args[i:]
	}
	return in.args
}

// stasisStep finds a RUN step that runs stasis, in the exec form or as a shell command with
// inline NAME=VALUE variables.
func stasisStep(t *testing.T, in instruction) (stasisLine, bool) {
	t.Helper()
	args := runFlags(in.args)
	argv, ok, err := execForm(args)
	if err != nil {
		t.Fatalf("line %d: %v", in.line, err)
	}
	if !ok {
		if argv, err = splitWords(args); err != nil {
			t.Fatalf("line %d: RUN %s: %v", in.line, args, err)
		}
	}
	run := stasisLine{line: in.line, env: map[string]string{}}
	for len(argv) > 0 && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(argv[0]) {
		k, v, _ := strings.Cut(argv[0], "=")
		run.env[k] = v
		argv = argv[1:]
	}
	if len(argv) == 0 || filepath.Base(argv[0]) != "stasis" {
		return run, false
	}
	run.argv = argv
	return run, true
}

// helpVariables is every STASIS_ variable `stasis --help` lists.
func helpVariables(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(stasisBin, "--help").Output()
	if err != nil {
		t.Fatalf("stasis --help: %v", err)
	}
	return regexp.MustCompile(`STASIS_[A-Z0-9_]+`).FindAllString(string(out), -1)
}

// checkStasisLine configures stasis from a Dockerfile's environment and command line, as the
// binary would at that point of the build or at a start of the image, and checks the engine
// against the command. It returns the command after `--`.
//
// An engine that launches java with a JDK flavour's flags (its Facts.JDK) may ask that JDK
// (crac probes its engine flag): jdk lays out a test double of that flavour, whose bin goes
// first on PATH, since the JDK in the Dockerfile's base image is not on this host.
func checkStasisLine(t *testing.T, where string, env map[string]string, argv []string, known []string, jdk func(flavour string) string) []string {
	t.Helper()
	for k := range env {
		if strings.HasPrefix(k, "STASIS_") && !slices.Contains(known, k) {
			t.Errorf("%s: %s is not a setting `stasis --help` lists", where, k)
		}
	}
	cfg, err := configure(argv[1:], env, io.Discard)
	if err != nil {
		t.Errorf("%s: stasis refuses %q with the Dockerfile's environment: %v", where, argv, err)
		return nil
	}
	if cfg.Engine == "auto" {
		return cfg.Command
	}
	eng := engine.New(cfg.Engine)
	if f := eng.Facts(); f.JDK != "" {
		t.Setenv("PATH", filepath.Join(jdk(f.JDK), "bin")+string(filepath.ListSeparator)+os.Getenv("PATH"))
	}
	launch, err := eng.LaunchArgv(cfg.Command, engine.Options{Dir: cfg.ImageDir})
	if err != nil {
		t.Errorf("%s: engine %s refuses the command %q: %v", where, cfg.Engine, cfg.Command, err)
		return cfg.Command
	}
	for _, c := range contradictions(cfg.Command, launch) {
		t.Errorf("%s: the command's %s contradicts the engine's %s", where, c[0], c[1])
	}
	return cfg.Command
}

// contradictions pairs a flag of the user's command with one the engine adds for the same
// JVM option but with another value (-XX:+F against -XX:-F, -XX:F=a against -XX:F=b).
func contradictions(command, launch []string) [][2]string {
	key := func(f string) string {
		k, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(f, "-XX:+"), "-XX:-"), "=")
		return strings.TrimPrefix(k, "-XX:")
	}
	var out [][2]string
	for _, added := range launch[1:] {
		if slices.Contains(command, added) || !strings.HasPrefix(added, "-") {
			continue
		}
		for _, mine := range command[1:] {
			if strings.HasPrefix(mine, "-") && key(mine) == key(added) {
				out = append(out, [2]string{mine, added})
			}
		}
	}
	return out
}

// TestExampleDockerfiles runs the checks above on every Dockerfile under examples/.
func TestExampleDockerfiles(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/Dockerfile*")
	if len(files) < 5 {
		t.Fatalf("found %d example Dockerfiles: %v", len(files), files)
	}
	known := helpVariables(t)
	for _, file := range files {
		name := strings.TrimPrefix(file, "../../")
		t.Run(strings.ReplaceAll(strings.TrimPrefix(name, "examples/"), "/", "_"), func(t *testing.T) {
			homes := map[string]string{}
			jdk := func(flavour string) string {
				if homes[flavour] == "" {
					homes[flavour] = fakejdktest.Layout(t, flavour)
				}
				return homes[flavour]
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ins, err := parseDockerfile(string(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			all := stages(t, ins)
			final := all[len(all)-1]
			if len(final.entrypoint) == 0 || filepath.Base(final.entrypoint[0]) != "stasis" {
				t.Fatalf("%s: the final stage's ENTRYPOINT is %q, not stasis", name, final.entrypoint)
			}
			command := checkStasisLine(t, name+" ENTRYPOINT", final.env, final.entrypoint, known, jdk)
			for _, s := range all {
				for _, run := range s.steps {
					env := map[string]string{}
					for k, v := range s.env {
						env[k] = v
					}
					for k, v := range run.env {
						env[k] = v
					}
					where := fmt.Sprintf("%s line %d (RUN)", name, run.line)
					got := checkStasisLine(t, where, env, run.argv, known, jdk)
					if command != nil && got != nil && !slices.Equal(got, command) {
						t.Errorf("%s: the checkpoint step runs %q, the ENTRYPOINT %q: the image would not be restored", where, got, command)
					}
				}
			}
		})
	}
}

// TestDockerfileChecksFail keeps the checks honest: each broken Dockerfile is caught.
func TestDockerfileChecksFail(t *testing.T) {
	if _, err := parseDockerfile("FROM x\nRUNN true\n"); err == nil {
		t.Error("an unknown instruction parsed")
	}
	if _, err := parseDockerfile("FROM x\nRUN true \\\n# the end\n"); err == nil {
		t.Error("a continuation past the end parsed")
	}
	if _, _, err := execForm(`["/stasis", "--"`); err == nil {
		t.Error("a broken exec form decoded")
	}
	if c := contradictions([]string{"java", "-XX:CRaCCheckpointTo=/x"}, []string{"java", "-XX:CRaCCheckpointTo=/checkpoint", "-XX:CRaCCheckpointTo=/x"}); len(c) != 1 {
		t.Errorf("contradictions = %v, want the CRaCCheckpointTo pair", c)
	}
	if _, err := configure([]string{"--", "java"}, map[string]string{"STASIS_WARMUP_REQUESTS": "many"}, io.Discard); err == nil {
		t.Error("a bad STASIS_WARMUP_REQUESTS was accepted")
	}
}
