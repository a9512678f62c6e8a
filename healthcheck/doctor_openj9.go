package healthcheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// capNetAdmin is CAP_NET_ADMIN (linux/capability.h).
const capNetAdmin = 12

// openJ9Facts are what an OpenJ9 checkpoint needs beyond stasis's own
// criu: OpenJ9 dumps through libcriu (eclipse-openj9/openj9
// runtime/criusupport/criusupport.cpp loads libcriu.so), and libcriu starts
// the service binary `criu` from PATH (checkpoint-restore/criu
// lib/c/criu.c), whatever STASIS_CRIU or $JAVA_HOME/lib/criu say.
type openJ9Facts struct {
	CRIUOnPath string // the criu PATH finds, or ""
	LibCRIU    string // a libcriu.so found, or ""
}

// libDirs are where the dynamic loader looks without LD_LIBRARY_PATH on the
// distributions JDK images use.
var libDirs = []string{"/usr/lib64", "/usr/lib", "/lib64", "/lib", "/usr/local/lib",
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/powerpc64le-linux-gnu", "/usr/lib/s390x-linux-gnu"}

func gatherOpenJ9() openJ9Facts {
	var f openJ9Facts
	if p, err := exec.LookPath("criu"); err == nil {
		f.CRIUOnPath = p
	}
	dirs := append(filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")), libDirs...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		for _, name := range []string{"libcriu.so", "libcriu.so.2"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				f.LibCRIU = filepath.Join(d, name)
				break
			}
		}
		if f.LibCRIU != "" {
			break
		}
	}
	return f
}

// openj9 checks what OpenJ9's own dump needs when this start checkpoints
// with it: criu on PATH and libcriu.so (not STASIS_CRIU, which only the
// restore uses), NET_ADMIN (CRIU locks the network with it, also in the
// unprivileged mode OpenJ9 uses for a non-root JVM), and a warning about TLS: with -XX:+EnableCRIUSupport only
// CRIUSECProvider is available until the restore (eclipse-openj9
// openj9-docs xxenablecriusupport.md), so a warm-up over TLS fails unless
// -XX:-CRIUSecProvider is set.
func (d *diagnosis) openj9() {
	if d.cfg.Engine != "openj9" || !d.cfg.Checkpoint {
		return
	}
	o := d.cfg.OpenJ9
	if o.CRIUOnPath != "" {
		d.add("openj9: criu on PATH", true, true, o.CRIUOnPath, "")
	} else {
		d.add("openj9: criu on PATH", false, true, "OpenJ9's libcriu runs `criu` from PATH, and none is there (STASIS_CRIU is only for the restore)",
			"install CRIU 4.x in the image so that `criu` is on PATH (Semeru's CRIU-enabled images ship one)")
	}
	if o.LibCRIU != "" {
		d.add("openj9: libcriu.so", true, true, o.LibCRIU, "")
	} else {
		d.add("openj9: libcriu.so", false, true, "OpenJ9 loads libcriu.so to checkpoint, and none was found in the library directories",
			"install CRIU's library (libcriu.so) in the image")
	}
	if d.f.CapEff&(1<<capNetAdmin) != 0 {
		d.add("openj9: capability NET_ADMIN", true, true, "present", "")
	} else {
		d.add("openj9: capability NET_ADMIN", false, true, fmt.Sprintf("CAP_NET_ADMIN is not in the effective set (CapEff %016x): OpenJ9's CRIU dump, unprivileged mode included, locks the network with it", d.f.CapEff),
			"add NET_ADMIN (docker run --cap-add NET_ADMIN; Kubernetes securityContext.capabilities.add: [NET_ADMIN])")
	}
	if d.cfg.OpenJ9API != "crac" && !hasArg(d.cfg.Command, "-XX:-CRIUSecProvider") {
		d.warn("openj9: TLS before the checkpoint",
			"with -XX:+EnableCRIUSupport only CRIUSECProvider is available until the restore: TLS during the warm-up (https probes or warm-up URLs, TLS clients in the application) fails",
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
