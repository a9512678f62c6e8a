package doctor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"stasis/supervisor/engine"
)

// openJ9Facts are what an OpenJ9 checkpoint needs beyond stasis's own
// criu: OpenJ9 dlopens "libcriu.so" by that name (eclipse-openj9/openj9
// runtime/vm/CRIUHelpers.cpp: j9sl_open_shared_library("criu",
// OMRPORT_SLOPEN_DECORATE)), so a libcriu.so.2 without the unversioned
// link (distributions put it in their -dev package) is not enough; and
// libcriu starts the service binary `criu` from PATH (checkpoint-restore/
// criu lib/c/criu.c), whatever STASIS_CRIU or $JAVA_HOME/lib/criu say.
type openJ9Facts struct {
	CRIUOnPath string // the criu PATH finds, or ""
	LibCRIU    string // the libcriu.so found, or ""
	// LibCRIUVersioned is a libcriu.so.N found where no libcriu.so is.
	LibCRIUVersioned string
}

// libDirs are where the dynamic loader looks without LD_LIBRARY_PATH on the
// distributions JDK images use.
var libDirs = []string{"/usr/lib64", "/usr/lib", "/lib64", "/lib", "/usr/local/lib",
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/powerpc64le-linux-gnu", "/usr/lib/s390x-linux-gnu"}

// gatherOpenJ9 looks for criu on PATH and for libcriu.so where the loader
// would: LD_LIBRARY_PATH, the JDK's own library directories, the
// directories of /etc/ld.so.conf.d, and the default ones.
func gatherOpenJ9(javaHome string) openJ9Facts {
	var f openJ9Facts
	if p, err := exec.LookPath(engine.CRIUBinary); err == nil {
		f.CRIUOnPath = p
	}
	dirs := filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))
	if javaHome != "" {
		dirs = append(dirs, filepath.Join(javaHome, "lib"), filepath.Join(javaHome, "lib", "default"))
	}
	dirs = append(append(dirs, ldSoConfDirs("/etc/ld.so.conf.d")...), libDirs...)
	f.LibCRIU, f.LibCRIUVersioned = findLibCRIU(dirs)
	return f
}

// findLibCRIU returns the first libcriu.so in dirs, else the first
// versioned libcriu.so.N as a hint.
func findLibCRIU(dirs []string) (lib, versioned string) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "libcriu.so")); err == nil {
			return filepath.Join(d, "libcriu.so"), ""
		}
		if versioned == "" {
			if m, _ := filepath.Glob(filepath.Join(d, "libcriu.so.*")); len(m) > 0 {
				versioned = m[0]
			}
		}
	}
	return "", versioned
}

// ldSoConfDirs reads the directories listed in dir/*.conf (no includes).
func ldSoConfDirs(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	var dirs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "/") {
				dirs = append(dirs, line)
			}
		}
	}
	return dirs
}

// openj9 checks what OpenJ9's own dump needs when this start checkpoints
// with it: criu on PATH and libcriu.so (not STASIS_CRIU, which only the
// restore uses), and a warning about
// TLS: in either checkpoint mode only CRIUSECProvider is available until
// the restore unless -XX:-CRIUSecProvider is set (eclipse-openj9/openj9
// runtime/vm/jvminit.c sets J9VM_CRIU_ENABLE_CRIU_SEC_PROVIDER by default
// when CRIU or CRaC checkpointing is enabled; openj9-docs
// xxcriusecprovider.md). Its capabilities are the engine's needs, which
// the privileges list judges (the rules the preflight applies), not a rule
// of the doctor's own.
func (d *diagnosis) openj9() {
	if !d.cfg.EngineFacts.LibCRIU || !d.cfg.Checkpoint {
		return
	}
	o := d.cfg.OpenJ9
	// The engine's name, not spelt here: the only one whose JVM dumps
	// itself through libcriu.
	eng := d.cfg.Engine + ": "
	if o.CRIUOnPath != "" {
		d.add(eng+"criu on PATH", true, true, o.CRIUOnPath, "")
	} else {
		d.add(eng+"criu on PATH", false, true, "OpenJ9's libcriu runs `criu` from PATH, and none is there (STASIS_CRIU is only for the restore)",
			"install CRIU 4.x in the image so that `criu` is on PATH (Semeru's CRIU-enabled images ship one)")
	}
	switch {
	case o.LibCRIU != "":
		d.add(eng+"libcriu.so", true, true, o.LibCRIU, "")
	case o.LibCRIUVersioned != "":
		d.add(eng+"libcriu.so", false, true, "OpenJ9 opens libcriu.so by that name, and only "+o.LibCRIUVersioned+" is there",
			"add the unversioned link: ln -s "+filepath.Base(o.LibCRIUVersioned)+" "+filepath.Join(filepath.Dir(o.LibCRIUVersioned), "libcriu.so")+" (Debian and Ubuntu ship it in libcriu-dev)")
	default:
		d.add(eng+"libcriu.so", false, true, "OpenJ9 loads libcriu.so to checkpoint, and none was found in the library directories",
			"install CRIU's library (libcriu.so) in the image")
	}
	if !hasArg(d.cfg.Command, "-XX:-CRIUSecProvider") {
		d.warn(eng+"TLS before the checkpoint",
			"with checkpointing enabled (-XX:+EnableCRIUSupport or -XX:CRaCCheckpointTo) only CRIUSECProvider is available until the restore: TLS during the warm-up (https probes or warm-up URLs, TLS clients in the application) fails",
			"add -XX:-CRIUSecProvider to the java command if the application needs TLS before the checkpoint")
	}
}

func hasArg(argv []string, a string) bool {
	for _, x := range argv {
		if strings.TrimSpace(x) == a {
			return true
		}
	}
	return false
}
