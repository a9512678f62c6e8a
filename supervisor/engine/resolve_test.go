package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	java := []string{"java", "-cp", "/app", "Main"}
	for _, tc := range []struct {
		name    string
		markers []string
		in      ResolveInput
		setting string // the *SettingError's setting, "" for none
		engine  string // "" for none
		errHas  string // Resolution.Err, "" for none
	}{
		{"auto, CRaC JDK", []string{"lib/libcriuengine.so"}, ResolveInput{Engine: Auto, Command: java}, "", "crac", ""},
		{"auto, OpenJ9", []string{"lib/default/libj9vm29.so", "lib/criu"}, ResolveInput{Engine: Auto, Command: java}, "", "openj9", ""},
		{"auto, OpenJ9 without criu (stasis restores it with criu)", []string{"lib/default/libj9vm29.so"}, ResolveInput{Engine: Auto, Command: java}, "", "openj9", "no criu found"},
		{"auto, plain JDK with criu", []string{"lib/criu"}, ResolveInput{Engine: Auto, Command: java}, "", "criu", ""},
		{"auto, plain JDK, no criu", nil, ResolveInput{Engine: Auto, Command: java}, "", "", "no checkpoint engine"},
		{"criu named, no criu: it can restore nothing of its own, checkpoint nothing", nil, ResolveInput{Engine: "criu", Command: java}, "", "criu", "no criu found"},
		{"crac named on a plain JDK", []string{"lib/criu"}, ResolveInput{Engine: "crac", Command: java}, "STASIS_ENGINE", "crac", ""},
		{"warp named on OpenJ9", []string{"lib/default/libj9vm29.so"}, ResolveInput{Engine: "warp", Command: java}, "STASIS_ENGINE", "warp", ""},
		{"a STASIS_CRIU that is not there", []string{"lib/libcriuengine.so"}, ResolveInput{Engine: Auto, CRIU: "/nonexistent/criu", Command: java}, "STASIS_CRIU", "crac", ""},
		{"crac needs a java command", []string{"lib/libcriuengine.so"}, ResolveInput{Engine: "crac", Command: []string{"/bin/sh", "-c", "java Main"}}, "", "crac", "java"},
		{"app trigger with the criu engine", []string{"lib/criu"}, ResolveInput{Engine: Auto, Command: java, AppTrigger: true}, "", "criu", "STASIS_CHECKPOINT_ON=app"},
		{"app trigger on a CRaC JDK", []string{"lib/libcriuengine.so"}, ResolveInput{Engine: Auto, Command: java, AppTrigger: true}, "", "crac", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := fakeHome(t, tc.markers...)
			os.WriteFile(filepath.Join(home, "release"), []byte(`JAVA_VERSION="21.0.5"`+"\n"), 0o644)
			r, err := Resolve(tc.in)
			var se *SettingError
			if got := ""; errors.As(err, &se) {
				got = se.Setting
				if got != tc.setting {
					t.Fatalf("setting error %v, want one for %q", err, tc.setting)
				}
			} else if tc.setting != "" || err != nil {
				t.Fatalf("err %v, want a setting error for %q", err, tc.setting)
			}
			name := ""
			if r.Engine != nil {
				name = r.Engine.Name()
			}
			if name != tc.engine || (r.Err == nil) != (tc.errHas == "") || r.Err != nil && !strings.Contains(r.Err.Error(), tc.errHas) {
				t.Fatalf("engine %q, err %v; want %q, err with %q", name, r.Err, tc.engine, tc.errHas)
			}
			if !IsJava(tc.in.Command) {
				return
			}
			if r.Java != filepath.Join(home, "bin", "java") || r.Home != home || r.Release.Version != "21.0.5" || r.FromImage != (tc.in.Engine == Auto) {
				t.Fatalf("java %s, home %s, release %+v, from image %v", r.Java, r.Home, r.Release, r.FromImage)
			}
		})
	}
}

// Launch builds the checkpoint's command line once, and only for an engine
// that can checkpoint; its failure is why the start cannot.
func TestResolutionLaunch(t *testing.T) {
	fakeHome(t, "lib/criu")
	java := []string{"java", "Main"}
	r, err := Resolve(ResolveInput{Engine: Auto, Command: java})
	if err != nil || r.LaunchArgv != nil {
		t.Fatalf("Resolve built the command line already (%v) or failed: %v", r.LaunchArgv, err)
	}
	r.Launch(java, Options{Dir: "/c"})
	if r.Err != nil || len(r.LaunchArgv) <= len(java) || r.LaunchArgv[0] != "java" {
		t.Fatalf("LaunchArgv %v, %v", r.LaunchArgv, r.Err)
	}
	fakeHome(t)
	r, _ = Resolve(ResolveInput{Engine: Auto, Command: java})
	r.Launch(java, Options{Dir: "/c"})
	if r.LaunchArgv != nil || r.Err == nil {
		t.Fatalf("no engine, yet LaunchArgv %v", r.LaunchArgv)
	}
}

func TestJavaHomeWithoutACommand(t *testing.T) {
	if _, _, err := JavaHome(nil); err == nil {
		t.Fatal("no command, yet a JDK")
	}
}
