package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// JavaHome finds the JDK that a command runs: the java executable on PATH,
// symlinks resolved (Debian's /usr/bin/java is one), two levels up.
func JavaHome(command []string) (java, home string, err error) {
	if len(command) == 0 {
		return "", "", errors.New("no command")
	}
	if !IsJava(command) {
		return "", "", fmt.Errorf("the command %q does not start with java", command[0])
	}
	java, err = exec.LookPath(command[0])
	if err != nil {
		return "", "", err
	}
	home, err = HomeOf(java)
	if err != nil {
		return "", "", err
	}
	return java, home, nil
}

// HomeOf is the JDK home of a java executable: two levels above where its
// symbolic links lead (HOME/bin/java).
func HomeOf(java string) (string, error) {
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", java, err)
	}
	return filepath.Dir(filepath.Dir(real)), nil
}

// Flavour recognises a JDK home by the files its runtime ships: a CRaC JDK
// has the criu engine in lib, OpenJ9 has libj9vm.
func Flavour(home string) string {
	// Current openjdk/crac: lib/libcriuengine.so and lib/criuhelper; a
	// static build has only lib/criuhelper (the engine is in bin/java);
	// older builds: the executable lib/criuengine.
	for _, f := range []string{"libcriuengine.so", "criuhelper", "criuengine"} {
		if exists(filepath.Join(home, "lib", f)) {
			return "crac"
		}
	}
	for _, vm := range []string{"default", "compressedrefs"} {
		if exists(filepath.Join(home, "lib", vm, "libj9vm29.so")) {
			return "openj9"
		}
	}
	return "hotspot"
}

// FlavourFiles names the files by which Flavour recognises a flavour.
func FlavourFiles(flavour string) string {
	switch flavour {
	case "crac":
		return "it has no lib/libcriuengine.so, lib/criuhelper or lib/criuengine"
	case "openj9":
		return "it has no lib/default or lib/compressedrefs libj9vm29.so"
	}
	return ""
}

// Detect chooses the engine for STASIS_ENGINE=auto: crac for a CRaC JDK,
// openj9 for OpenJ9, criu for any other JDK when a criu binary is found.
// The error says exactly what is missing.
func Detect(command []string, criuSetting, javaHomeEnv string) (string, error) {
	name, _, err := DetectWhy(command, criuSetting, javaHomeEnv)
	return name, err
}

// DetectWhy is Detect with the reason for the choice, for the log.
func DetectWhy(command []string, criuSetting, javaHomeEnv string) (name, why string, err error) {
	_, home, err := JavaHome(command)
	if err == nil {
		switch f := Flavour(home); f {
		case "crac":
			return f, home + " is a CRaC JDK (its lib has the CRIU engine); stasis pins -XX:CRaCEngine to CRIU", nil
		case "openj9":
			return f, home + " is OpenJ9 (lib/*/libj9vm29.so)", nil
		}
	}
	p, cerr := FindCRIU(criuSetting, javaHomeEnv, home)
	if cerr != nil {
		if err != nil {
			return "", "", fmt.Errorf("no checkpoint engine: %v, and %v", err, cerr)
		}
		return "", "", fmt.Errorf("no checkpoint engine: %s is neither a CRaC JDK (no lib/libcriuengine.so, lib/criuhelper or lib/criuengine) nor OpenJ9, and %v", home, cerr)
	}
	return "criu", home + " is neither CRaC nor OpenJ9, and " + p + " is CRIU", nil
}

// FindCRIU looks for criu: STASIS_CRIU, then HOME/lib/criu for each JDK
// home given ($JAVA_HOME, the command's JDK: CRaC JDKs ship one), then PATH.
func FindCRIU(setting string, javaHomes ...string) (string, error) {
	if setting != "" {
		if err := executable(setting); err != nil {
			return "", fmt.Errorf("STASIS_CRIU=%q: %w", setting, err)
		}
		return setting, nil
	}
	var tried []string
	for _, home := range javaHomes {
		if home == "" {
			continue
		}
		p := filepath.Join(home, "lib", "criu")
		if executable(p) == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath(CRIUBinary); err == nil {
		return p, nil
	}
	tried = append(tried, "criu on PATH")
	return "", fmt.Errorf("no criu found (set STASIS_CRIU; tried %s)", strings.Join(tried, ", "))
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// FindCRaCCRIU finds the criu a CRaC JDK will run, the way the JDK does:
// -XX:CRaCEngineOptions=criu_location=…, then CRAC_CRIU_PATH, then, for an
// older build (the executable lib/criuengine), its own lib/criu, else PATH
// (openjdk/crac criuengine.cpp get_criu; docs/runtimes.md).
func FindCRaCCRIU(command []string, home string, getenv func(string) string) (string, error) {
	_, opts := userEngineFlags(command)
	for _, o := range opts {
		for _, kv := range strings.Split(strings.TrimPrefix(o, "-XX:CRaCEngineOptions="), ",") {
			if v, ok := strings.CutPrefix(kv, "criu_location="); ok {
				return v, executable(v)
			}
		}
	}
	if p := getenv("CRAC_CRIU_PATH"); p != "" {
		return p, executable(p)
	}
	if home != "" && exists(filepath.Join(home, "lib", "criuengine")) && !exists(filepath.Join(home, "lib", "libcriuengine.so")) {
		p := filepath.Join(home, "lib", "criu")
		if executable(p) == nil {
			return p, nil
		}
	}
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if p := filepath.Join(dir, "criu"); executable(p) == nil {
			return p, nil
		}
	}
	return "", errors.New("the CRaC JDK will find no criu: none on PATH, no criu_location in -XX:CRaCEngineOptions")
}
