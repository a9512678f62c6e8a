package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// JDKFlags is what `java -XX:+PrintFlagsFinal -version` says about the
// CRaC engine: the flag's spelling (CRaCEngine; older builds CREngine) and
// its default. Azul documents criu as the Linux default, but a Zulu build
// was reported with `CRaCEngine = warp {default}`, so stasis never relies on
// the default (docs/runtimes.md).
type JDKFlags struct {
	EngineFlag    string // "CRaCEngine", "CREngine", or "" when the JDK has none
	DefaultEngine string
}

var probeCache sync.Map // java path, mtime and size -> JDKFlags

const probeTimeout = time.Minute

// ProbeJDK runs the JDK once per binary (cached by path, mtime and size for
// the life of this process) and reads its CRaC engine flag.
func ProbeJDK(java string) (JDKFlags, error) {
	fi, err := os.Stat(java)
	if err != nil {
		return JDKFlags{}, fmt.Errorf("probe the JDK: %w", err)
	}
	key := fmt.Sprintf("%s|%d|%d", java, fi.ModTime().UnixNano(), fi.Size())
	if f, ok := probeCache.Load(key); ok {
		return f.(JDKFlags), nil
	}
	// It runs before the supervisor (and its reaper) starts, so Output may
	// wait for it; a JDK that hangs is given up on.
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, java, "-XX:+PrintFlagsFinal", "-version").Output()
	if err != nil {
		return JDKFlags{}, fmt.Errorf("probe the JDK with %s -XX:+PrintFlagsFinal -version: %w", java, err)
	}
	f := ParseFlags(string(out))
	probeCache.Store(key, f)
	return f, nil
}

// ParseFlags reads -XX:+PrintFlagsFinal output: lines of the form
// "ccstr CRaCEngine = criuengine {product} {default}".
func ParseFlags(out string) JDKFlags {
	var f JDKFlags
	for _, l := range strings.Split(out, "\n") {
		fs := strings.Fields(l)
		if len(fs) < 3 || (fs[1] != "CRaCEngine" && fs[1] != "CREngine") || fs[2] != "=" {
			continue
		}
		f.EngineFlag = fs[1]
		if len(fs) > 3 && !strings.HasPrefix(fs[3], "{") {
			f.DefaultEngine = fs[3]
		}
	}
	return f
}

// criuEnginePin is the flag that makes a CRaC JDK use its CRIU engine: the
// build's own default when that is the CRIU engine, else criuengine (the
// name openjdk/crac resolves -XX:CRaCEngine=criu to).
func (f JDKFlags) criuEnginePin() string {
	if f.EngineFlag == "" {
		return ""
	}
	v := f.DefaultEngine
	if !strings.Contains(v, "criu") {
		v = "criuengine"
	}
	return "-XX:" + f.EngineFlag + "=" + v
}

// userEngineFlags returns the user's own -XX:CRaCEngine/-XX:CREngine and
// -XX:CRaCEngineOptions flags from a java command line.
func userEngineFlags(command []string) (engine string, options []string) {
	if len(command) == 0 {
		return "", nil
	}
	args := command[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-cp" || a == "-classpath" || a == "--class-path" || a == "-p" || a == "--module-path":
			i++
		case a == "-jar":
			return engine, options
		case strings.HasPrefix(a, "-XX:CRaCEngine=") || strings.HasPrefix(a, "-XX:CREngine="):
			engine = a
		case strings.HasPrefix(a, "-XX:CRaCEngineOptions="):
			options = append(options, a)
		case !strings.HasPrefix(a, "-"):
			return engine, options // the main class: the rest is the application's
		}
	}
	return engine, options
}
