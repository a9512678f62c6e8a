package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// flavour is decided by the home's layout, the way stasis's engine=auto
// decides it: a CRaC JDK ships lib/criuengine (the executable engine built
// from openjdk/crac src/java.base/unix/native/criuengine/criuengine.cpp;
// later builds also ship the library engine), OpenJ9 ships
// lib/default/libj9vm29.so, anything else is a plain HotSpot.
type flavour int

const (
	hotspot flavour = iota
	crac
	openj9
)

// Versions printed by -version and VM.version.
const (
	javaVersion = "17.0.13"
	zuluVersion = "Zulu17.54+21-CRaC-CA"
)

// javaHome is the directory above bin/java.
func javaHome() string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(filepath.Dir(exe))
}

func detectFlavour(home string) flavour {
	if exists(filepath.Join(home, "lib", "default", "libj9vm29.so")) {
		return openj9
	}
	for _, f := range []string{"criuengine", "libcriuengine.so", "criuhelper"} {
		if exists(filepath.Join(home, "lib", f)) {
			return crac
		}
	}
	return hotspot
}

// vmLibrary is the shared object the "JVM" maps, so that /proc/PID/maps
// shows what a real JVM of that flavour shows (stasis's attach client looks
// for libjvm.so or libj9vm*).
func vmLibrary(home string, f flavour) string {
	if f == openj9 {
		return filepath.Join(home, "lib", "default", "libj9vm29.so")
	}
	return filepath.Join(home, "lib", "server", "libjvm.so")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func printBanner(w io.Writer, f flavour) {
	switch f {
	case crac:
		fmt.Fprintf(w, "openjdk version \"%s\" 2024-10-15 LTS\n", javaVersion)
		fmt.Fprintf(w, "OpenJDK Runtime Environment %s (build %s+11-LTS)\n", zuluVersion, javaVersion)
		fmt.Fprintf(w, "OpenJDK 64-Bit Server VM %s (build %s+11-LTS, mixed mode, sharing)\n", zuluVersion, javaVersion)
	case openj9:
		fmt.Fprintf(w, "openjdk version \"%s\" 2024-10-15\n", javaVersion)
		fmt.Fprintf(w, "IBM Semeru Runtime Open Edition %s.0 (build %s+11)\n", javaVersion, javaVersion)
		fmt.Fprintf(w, "Eclipse OpenJ9 VM %s.0 (build openj9-0.48.0, JRE 17 Linux amd64-64-Bit Compressed References 20241015_000 (JIT enabled, AOT enabled)\n", javaVersion)
		fmt.Fprintf(w, "OpenJ9   - 1d5831436e\nOMR      - d10a4d553\nJCL      - a8a1d1ec27 based on jdk-%s+11)\n", javaVersion)
	default:
		fmt.Fprintf(w, "openjdk version \"%s\" 2024-10-15\n", javaVersion)
		fmt.Fprintf(w, "OpenJDK Runtime Environment (build %s+11-Debian-1deb12u1)\n", javaVersion)
		fmt.Fprintf(w, "OpenJDK 64-Bit Server VM (build %s+11-Debian-1deb12u1, mixed mode, sharing)\n", javaVersion)
	}
}

// vmVersion is the reply to `jcmd PID VM.version`.
func vmVersion(f flavour) string {
	if f == crac {
		return fmt.Sprintf("OpenJDK 64-Bit Server VM version %s+11-LTS\nJDK %s\n", javaVersion, javaVersion)
	}
	return fmt.Sprintf("OpenJDK 64-Bit Server VM version %s+11-Debian-1deb12u1\nJDK %s\n", javaVersion, javaVersion)
}

// printFlags is -XX:+PrintFlagsFinal, reduced to the CRaC flags (HotSpot's
// JVMFlag::printFlags format: type, name, "=", value, origin). A plain
// HotSpot has none of them.
func printFlags(w io.Writer, f flavour, b build) {
	fmt.Fprintln(w, "[Global flags]")
	if f == crac {
		fmt.Fprintf(w, "    ccstr %-40s = %-41s {product} {default}\n", "CRaCCheckpointTo", "")
		fmt.Fprintf(w, "    ccstr %-40s = %-41s {product} {default}\n", "CRaCEngine", b.defaultEngine)
		fmt.Fprintf(w, "ccstrlist %-40s = %-41s {product} {default}\n", "CRaCEngineOptions", "")
	}
	fmt.Fprintf(w, "     bool %-40s = %-41s {product} {default}\n", "UsePerfData", "true")
}
