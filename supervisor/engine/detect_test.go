package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHome lays out a JDK home with the marker files of a runtime and a java
// on a private PATH.
func fakeHome(t *testing.T, markers ...string) string {
	home := t.TempDir()
	for _, m := range append([]string{"bin/java"}, markers...) {
		p := filepath.Join(home, m)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", filepath.Join(home, "bin"))
	return home
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		markers []string
		want    string
	}{
		{[]string{"lib/criuengine"}, "crac"},
		{[]string{"lib/libcriuengine.so"}, "crac"},
		{[]string{"lib/default/libj9vm29.so"}, "openj9"},
		{[]string{"lib/compressedrefs/libj9vm29.so"}, "openj9"},
		{[]string{"lib/criu"}, "criu"}, // a plain JDK with a criu in its lib
	} {
		home := fakeHome(t, tc.markers...)
		got, err := Detect([]string{"java", "-jar", "app.jar"}, "", "")
		if err != nil || got != tc.want {
			t.Errorf("markers %v: Detect = %q, %v; want %q", tc.markers, got, err, tc.want)
		}
		_ = home
	}
}

func TestDetectSaysWhatIsMissing(t *testing.T) {
	fakeHome(t) // a plain JDK, no criu anywhere
	_, err := Detect([]string{"java", "Main"}, "", "")
	if err == nil || !strings.Contains(err.Error(), "criuengine") || !strings.Contains(err.Error(), "STASIS_CRIU") {
		t.Fatalf("error does not say what is missing: %v", err)
	}
}

func TestFindCRIUOrder(t *testing.T) {
	home := fakeHome(t, "lib/criu")
	other := fakeHome(t, "lib/criu")
	if got, _ := FindCRIU("", other, home); got != filepath.Join(other, "lib", "criu") {
		t.Errorf("JAVA_HOME's criu should come first, got %s", got)
	}
	if _, err := FindCRIU("/nonexistent/criu", home); err == nil || !strings.Contains(err.Error(), "STASIS_CRIU") {
		t.Errorf("a bad STASIS_CRIU must be an error naming it: %v", err)
	}
}

// TestFindCRaCCRIU: criu_location first, then CRAC_CRIU_PATH, then a legacy
// build's lib/criu, then PATH; a current build never uses lib/criu.
func TestFindCRaCCRIU(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) string {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
		return p
	}
	loc, env, onPath := mk(filepath.Join(dir, "loc", "criu")), mk(filepath.Join(dir, "env", "criu")), mk(filepath.Join(dir, "path", "criu"))
	legacy, current := filepath.Join(dir, "legacy"), filepath.Join(dir, "current")
	legacyCRIU := mk(filepath.Join(legacy, "lib", "criu"))
	mk(filepath.Join(legacy, "lib", "criuengine"))
	mk(filepath.Join(current, "lib", "criu"))
	mk(filepath.Join(current, "lib", "libcriuengine.so"))
	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		command []string
		home    string
		env     map[string]string
		want    string
	}{
		{"criu_location", []string{"java", "-XX:CRaCEngineOptions=args=-v4,criu_location=" + loc}, current, map[string]string{"CRAC_CRIU_PATH": env}, loc},
		{"CRAC_CRIU_PATH", []string{"java"}, current, map[string]string{"CRAC_CRIU_PATH": env, "PATH": filepath.Dir(onPath)}, env},
		{"legacy lib/criu", []string{"java"}, legacy, map[string]string{"PATH": filepath.Dir(onPath)}, legacyCRIU},
		{"current build: PATH", []string{"java"}, current, map[string]string{"PATH": filepath.Dir(onPath)}, onPath},
		{"none", []string{"java"}, current, map[string]string{"PATH": "/nonexistent"}, ""},
	} {
		got, err := FindCRaCCRIU(tc.command, tc.home, getenv(tc.env))
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: FindCRaCCRIU = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
