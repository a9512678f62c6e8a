package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"stasis/supervisor/image"
)

// The command lines for java and criu, one line per case: a flag change
// shows up here as a one-line diff.
func TestArgv(t *testing.T) {
	cmd := []string{"java", "-Xmx256m", "-jar", "/app/app.jar"}
	o := Options{Dir: "/checkpoint", ResourcePolicies: "/app/policies.yaml"}
	for _, tc := range []struct {
		name string
		got  []string
		want string
	}{
		{"crac launch", CRaCLaunchArgv(cmd, o, "-XX:CRaCEngine=criuengine"),
			"java -XX:CRaCCheckpointTo=/checkpoint -XX:CRaCEngine=criuengine -Djdk.crac.resource-policies=/app/policies.yaml -Xmx256m -jar /app/app.jar"},
		{"crac launch, the user's engine, no policies", CRaCLaunchArgv(cmd, Options{Dir: "/c"}, ""),
			"java -XX:CRaCCheckpointTo=/c -Xmx256m -jar /app/app.jar"},
		{"warp launch", CRaCLaunchArgv(cmd, Options{Dir: "/c"}, "-XX:CRaCEngine=warp"),
			"java -XX:CRaCCheckpointTo=/c -XX:CRaCEngine=warp -Xmx256m -jar /app/app.jar"},
		{"crac restore with the user's engine options", CRaCRestoreArgv("/usr/bin/java", "/checkpoint", "-XX:CRaCEngine=criuengine", "-XX:CRaCEngineOptions=args=-v4"),
			"/usr/bin/java -XX:CRaCRestoreFrom=/checkpoint -XX:CRaCEngine=criuengine -XX:CRaCEngineOptions=args=-v4"},
		{"warp restore", CRaCRestoreArgv("/usr/bin/java", "/checkpoint", "-XX:CRaCEngine=warp"),
			"/usr/bin/java -XX:CRaCRestoreFrom=/checkpoint -XX:CRaCEngine=warp"},
		{"openj9 launch", OpenJ9LaunchArgv(cmd, o),
			"java -XX:+EnableCRIUSupport -Dstasis.imageDir=/checkpoint -Xmx256m -jar /app/app.jar"},
		{"openj9 launch, EnableCRIUSupport given", OpenJ9LaunchArgv([]string{"java", "-XX:+EnableCRIUSupport", "Main"}, Options{Dir: "/c"}),
			"java -Dstasis.imageDir=/c -XX:+EnableCRIUSupport Main"},
		{"openj9 launch, crac mode", OpenJ9LaunchArgv(cmd, Options{Dir: "/c", OpenJ9API: OpenJ9CRaC}),
			"java -XX:CRaCCheckpointTo=/c -Xmx256m -jar /app/app.jar"},
		{"criu launch", CRIULaunchArgv(cmd),
			"java -XX:+PerfDisableSharedMem -Xmx256m -jar /app/app.jar"},
		{"criu launch, user disabled perf data", CRIULaunchArgv([]string{"java", "-XX:-UsePerfData", "Main"}),
			"java -XX:-UsePerfData Main"},
		{"criu launch, not java", CRIULaunchArgv([]string{"/bin/sh", "-c", "loop"}),
			"/bin/sh -c loop"},
		{"criu dump", CRIUDumpArgv("/usr/sbin/criu", 1001, "/checkpoint", "dump.log", false),
			"/usr/sbin/criu dump -t 1001 -D /checkpoint --shell-job --tcp-established --file-locks -v4 -o dump.log"},
		{"criu dump without SYS_ADMIN", CRIUDumpArgv("criu", 1001, "/c", "dump.log", true),
			"criu dump -t 1001 -D /c --shell-job --tcp-established --file-locks -v4 -o dump.log --unprivileged"},
		{"criu restore", CRIURestoreArgv("/usr/sbin/criu", "/checkpoint", "/run/stasis", "/run/stasis/restore.pid", "restore.log",
			[]InheritPipe{{3, 4711}, {4, 4712}}, false),
			"/usr/sbin/criu restore -D /checkpoint -W /run/stasis --shell-job --tcp-established --file-locks -d --restore-sibling --pidfile /run/stasis/restore.pid -v4 -o restore.log" +
				" --inherit-fd fd[3]:pipe:[4711] --inherit-fd fd[4]:pipe:[4712]"},
		{"criu restore unprivileged", CRIURestoreArgv("criu", "/c", "/s", "/p", "r.log", nil, true),
			"criu restore -D /c -W /s --shell-job --tcp-established --file-locks -d --restore-sibling --pidfile /p -v4 -o r.log --unprivileged"},
	} {
		if got := strings.Join(tc.got, " "); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestOpenJ9LaunchConflicts: OpenJ9 refuses -XX:+EnableCRIUSupport with
// -XX:CRaCCheckpointTo (JVMJ9VM237E), so a command that has the other mode's
// flag is refused before anything starts.
func TestOpenJ9LaunchConflicts(t *testing.T) {
	for _, tc := range []struct {
		api  string
		flag string
	}{
		{OpenJ9CRIUSupport, "-XX:CRaCCheckpointTo=/x"},
		{"", "-XX:CRaCCheckpointTo=/x"},
		{OpenJ9CRaC, "-XX:+EnableCRIUSupport"},
		{OpenJ9CRaC, "-XX:CRaCCheckpointTo=/elsewhere"},
	} {
		if argv, err := New("openj9").LaunchArgv([]string{"java", tc.flag, "Main"}, Options{Dir: "/c", OpenJ9API: tc.api}); err == nil {
			t.Errorf("api %q with %s: accepted, argv %q", tc.api, tc.flag, argv)
		}
	}
}

func TestLaunchArgvNeedsJava(t *testing.T) {
	for _, e := range []Engine{New("crac"), New("warp"), New("openj9")} {
		if _, err := e.LaunchArgv([]string{"/bin/sh", "-c", "java -jar x"}, Options{Dir: "/c"}); err == nil {
			t.Errorf("%s accepted a command that does not start with java", e.Name())
		}
	}
	if _, err := New("criu").LaunchArgv([]string{"/bin/sh"}, Options{}); err != nil {
		t.Errorf("criu refused a non-java command, which it can dump as a tree: %v", err)
	}
}

func TestWithFlagsDoesNotAliasTheCommand(t *testing.T) {
	cmd := make([]string, 2, 10)
	cmd[0], cmd[1] = "java", "Main"
	out := withFlags(cmd, "-XX:A")
	out[0] = "changed"
	if cmd[0] != "java" || cmd[1] != "Main" {
		t.Fatalf("the user's command was modified: %q", cmd)
	}
}

func TestLogErrorIgnoresTheRlimitLine(t *testing.T) {
	dir := t.TempDir()
	ok := "(00.06) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n(00.30) Dumping finished successfully\n"
	bad := "(00.06) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n" +
		"(00.07) Error (criu/files-reg.c:1790): Can't lookup mount=24 for fd=10 path=/dev/null\n(00.08) Error (criu/cr-dump.c:1975): Dumping FAILED.\n"
	os.WriteFile(dir+"/ok.log", []byte(ok), 0o644)
	os.WriteFile(dir+"/bad.log", []byte(bad), 0o644)
	if msg := logError(dir + "/ok.log"); msg != "" {
		t.Errorf("a successful dump read as failed: %q", msg)
	}
	if msg := logError(dir + "/bad.log"); !strings.Contains(msg, "Can't lookup mount") {
		t.Errorf("failed dump: %q, want the first real error", msg)
	}
}

func TestDumpVerdictIsStatsDump(t *testing.T) {
	dir := t.TempDir()
	// A log that says success is not the verdict: only stats-dump is.
	os.WriteFile(dir+"/dump4.log", []byte("(00.30) Dumping finished successfully\n"), 0o644)
	if err := dumpSucceeded(dir); err == nil {
		t.Fatal("no stats-dump judged a success")
	}
	os.WriteFile(dir+"/"+StatsDump, []byte{}, 0o600)
	if err := dumpSucceeded(dir); err != nil {
		t.Fatalf("stats-dump present: %v", err)
	}
}

func TestParseFreeRatios(t *testing.T) {
	out := "[Global flags]\n    uintx MaxHeapFreeRatio                         = 70                                     {manageable} {default}\n" +
		"    uintx MinHeapFreeRatio                         = 40                                     {manageable} {default}\n"
	min, max, err := parseFreeRatios(out)
	if err != nil || min != "40" || max != "70" {
		t.Fatalf("got %q %q %v", min, max, err)
	}
	if _, _, err := parseFreeRatios("[Global flags]\n"); err == nil {
		t.Fatal("no flags must be an error")
	}
}

// Each engine owns the names its runtime writes into the image directory,
// and none of them claims a user's file.
func TestImageFiles(t *testing.T) {
	owns := func(e Engine, name string) bool { return image.Names(e.ImageFiles()).Owned(name) }
	for _, c := range []struct {
		engine, name string
		want         bool
	}{
		{"criu", "pages-1.img", true}, {"criu", "dump.log", true}, {"criu", "stdout.fifo", true},
		{"crac", "dump4.log", true}, {"crac", "cppath", true}, {"crac", "core-1001.img", true},
		{"warp", "core.img", true}, {"openj9", "criu.log", true},
		{"criu", "dump4.log", false}, {"crac", "core.img", false}, {"openj9", "app.log", false},
		{"crac", "disk.img", false},
		// CRaC's own records; no runtime writes cpufeatures or a CRaC restore.log.
		{"crac", "tags", true}, {"crac", "engine", true}, {"crac", "perfdata", true},
		{"crac", "cpufeatures", false}, {"crac", "restore.log", false},
	} {
		if got := owns(New(c.engine), c.name); got != c.want {
			t.Errorf("%s owns %s: %v, want %v", c.engine, c.name, got, c.want)
		}
	}
}

// TestOpenJ9CheckpointCommand: the mode's command, and no CRIU.checkpoint
// with an image directory that OpenJ9 would split into other words.
func TestOpenJ9CheckpointCommand(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Dir: "/checkpoint"}, "CRIU.checkpoint imageDir=/checkpoint"},
		{Options{Dir: "/check point", OpenJ9API: OpenJ9CRaC}, "JDK.checkpoint"},
		{Options{Dir: "/check point"}, ""},
		{Options{Dir: "/a,logLevel=4"}, ""},
		{Options{Dir: "/a=b"}, ""},
	} {
		got, err := checkpointCommand(tc.o)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("checkpointCommand(%+v) = %q, %v; want %q", tc.o, got, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "STASIS_IMAGE_DIR") {
			t.Errorf("the error does not name the setting: %v", err)
		}
	}
}

// TestParseFlags: the engine flag's spelling and default from
// -XX:+PrintFlagsFinal, and the pin that makes the JDK use CRIU.
func TestParseFlags(t *testing.T) {
	for _, tc := range []struct{ out, flag, def, pin string }{
		{"    ccstr CRaCEngine                               = criuengine                                {product} {default}\n", "CRaCEngine", "criuengine", "-XX:CRaCEngine=criuengine"},
		{"    ccstr CRaCEngine                               = warp                                      {product} {default}\n", "CRaCEngine", "warp", "-XX:CRaCEngine=criuengine"},
		{"    ccstr CREngine                                 = criuengine                                {product} {default}\n", "CREngine", "criuengine", "-XX:CREngine=criuengine"},
		{"     bool UsePerfData                              = true                                      {product} {default}\n", "", "", ""},
	} {
		f := ParseFlags(tc.out)
		if f.EngineFlag != tc.flag || f.DefaultEngine != tc.def || f.criuEnginePin() != tc.pin {
			t.Errorf("ParseFlags(%q) = %+v pin %q, want %s=%s pin %q", tc.out, f, f.criuEnginePin(), tc.flag, tc.def, tc.pin)
		}
	}
	eng, opts := userEngineFlags([]string{"java", "-cp", "x", "-XX:CRaCEngine=warp", "-XX:CRaCEngineOptions=args=-v4", "Main", "-XX:CRaCEngine=no"})
	if eng != "-XX:CRaCEngine=warp" || len(opts) != 1 {
		t.Errorf("userEngineFlags = %q %q", eng, opts)
	}
}

// TestCRaCPin: a -XX:CRaCEngine the user gave is respected (no flag added,
// no probe); otherwise the JDK is probed once per binary and the CRIU
// engine pinned whatever its default.
func TestCRaCPin(t *testing.T) {
	if pin, err := (&CRaC{}).pin([]string{"/nonexistent/java", "-XX:CRaCEngine=warp"}); pin != "" || err != nil {
		t.Fatalf("pin with the user's engine = %q, %v; want none", pin, err)
	}
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	java := filepath.Join(dir, "java")
	script := "#!/bin/sh\necho x >> " + count + "\necho '    ccstr CRaCEngine = warp {product} {default}'\n"
	if err := os.WriteFile(java, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		pin, err := (&CRaC{}).pin([]string{java, "-jar", "app.jar"})
		if err != nil || pin != "-XX:CRaCEngine=criuengine" {
			t.Fatalf("pin = %q, %v; want -XX:CRaCEngine=criuengine on a build whose default is warp", pin, err)
		}
	}
	if b, _ := os.ReadFile(count); strings.Count(string(b), "x") != 1 {
		t.Fatalf("the JDK was probed %d times, want once", strings.Count(string(b), "x"))
	}
	if pin, _ := (&CRaC{Warp: true}).pin([]string{java}); pin != "-XX:CRaCEngine=warp" {
		t.Fatalf("warp pin = %q", pin)
	}
	// A restore takes the engine from the manifest's launch flags: no probe.
	flags, err := (&CRaC{}).restoreFlags([]string{"/nonexistent/java", "-XX:CRaCEngineOptions=args=-v4", "Main"},
		[]string{"-XX:CRaCCheckpointTo=/c", "-XX:CREngine=criuengine"})
	if err != nil || strings.Join(flags, " ") != "-XX:CREngine=criuengine -XX:CRaCEngineOptions=args=-v4" {
		t.Fatalf("restoreFlags = %q, %v", flags, err)
	}
}
