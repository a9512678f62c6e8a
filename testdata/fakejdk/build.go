package main

import (
	"os"
	"path/filepath"
	"strings"
)

// build is what one CRaC JDK build is, decided from its home's files the way
// the real JDK's own code finds them. One binary stands for several builds.
type build struct {
	// legacy: an older build whose engine is the executable lib/criuengine
	// and which ships its own CRIU fork as lib/criu (openjdk/crac
	// src/java.base/unix/native/criuengine/criuengine.cpp, the executable
	// engine, main(): CRAC_CRIU_PATH, then <engine dir>/criu, then
	// /usr/sbin/criu). Otherwise a current build: the engine is a library
	// (lib/libcriuengine.so, or linked into bin/java in a static build) with
	// lib/criuhelper next to it, and CRIU >= 4.0 comes from criu_location,
	// CRAC_CRIU_PATH or PATH (openjdk/crac
	// src/java.base/linux/native/libcriuengine/criuengine.cpp,
	// criuengine::get_criu).
	legacy bool
	// static: a static JDK, the VM linked into bin/java: no
	// lib/server/libjvm.so exists or is mapped, and the engine is found in
	// the launcher itself (openjdk/crac src/hotspot/share/runtime/crac_engine.cpp,
	// find_engine: "VM is statically linked, not doing any library lookup").
	static bool
	// defaultEngine is the build's default -XX:CRaCEngine. openjdk/crac
	// builds default to the CRIU engine; a Zulu build was reported with
	// `CRaCEngine = warp {default}` (Azul's build setting, closed source).
	// The double reads it from the home's fakejdk-build file, the one
	// harness file standing for a compile-time setting.
	defaultEngine string
}

func detectBuild(home string) build {
	b := build{defaultEngine: "criuengine"}
	b.legacy = exists(filepath.Join(home, "lib", "criuengine")) && !exists(filepath.Join(home, "lib", "libcriuengine.so"))
	b.static = !exists(filepath.Join(home, "lib", "server", "libjvm.so"))
	if data, err := os.ReadFile(filepath.Join(home, "fakejdk-build")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "default_engine="); ok {
				b.defaultEngine = v
			}
		}
	}
	return b
}

// resolvedEngine is the name CRaC records in DIR/engine and compares at
// restore: find_engine tries the name as given, then with the "engine"
// suffix, so -XX:CRaCEngine=criu resolves to criuengine (openjdk/crac
// src/hotspot/share/runtime/crac_engine.cpp, find_engine, record_engine,
// check_engine). Warp's library name is not public; the double takes "warp".
func resolvedEngine(name string) string {
	switch name {
	case "criu", "criuengine":
		return "criuengine"
	case "warp", "warpengine":
		return "warp"
	}
	return name
}
