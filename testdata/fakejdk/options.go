package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// options is the part of a java command line the double understands. The
// parse is pure so that its rules (what is restore-settable, what a flag
// means) read in one place.
type options struct {
	version       bool            // -version: banner to stderr
	versionStdout bool            // --version: banner to stdout
	checkpointTo  string          // -XX:CRaCCheckpointTo
	restoreFrom   string          // -XX:CRaCRestoreFrom
	engine        string          // -XX:CRaCEngine; "" means the build's default
	minPID        int             // -XX:CRaCMinPid
	printFlags    bool            // -XX:+PrintFlagsFinal
	vmFlags       map[string]bool // -XX:+Name
	vmFlagOff     map[string]bool // -XX:-Name
	engineOptions map[string]string
	ignoredFDs    map[int]bool // -XX:CRaCIgnoredFileDescriptors
	cpuFeatures   string       // -XX:CPUFeatures
	enableCRIU    bool         // -XX:+EnableCRIUSupport (OpenJ9)
	props         map[string]string
	notSettable   []string // VM options that may not accompany -XX:CRaCRestoreFrom
	mainArgs      []string // main class or -jar file and its arguments
}

// restoreSettable names the VM options a CRaC JVM accepts next to
// -XX:CRaCRestoreFrom (openjdk/crac src/hotspot/share/runtime/globals.hpp
// marks them restore-settable; the CRaC restore tests pass
// -XX:CRaCIgnoredFileDescriptors and CRaCCheckpointTo there). Anything else makes the restore exit 1 with "is not
// restore-settable", as the real VM does for, say, NativeMemoryTracking.
var restoreSettable = map[string]bool{
	"CRaCRestoreFrom": true, "CRaCCheckpointTo": true, "CRaCEngine": true,
	"CRaCEngineOptions": true, "CRaCIgnoredFileDescriptors": true, "CRaCMinPid": true,
	"CRaCIgnoreRestoreIfUnavailable": true, "CRaCResetStartTime": true,
	"CRaCTraceStartupTime": true, "UnlockDiagnosticVMOptions": true,
	"UnlockExperimentalVMOptions": true,
}

func parseOptions(args []string) (options, error) {
	o := options{vmFlags: map[string]bool{}, vmFlagOff: map[string]bool{}, engineOptions: map[string]string{}, ignoredFDs: map[int]bool{}, props: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-version":
			o.version = true
		case a == "--version":
			o.versionStdout = true
		case a == "-cp" || a == "-classpath" || a == "--class-path":
			i++ // the class path is irrelevant to the double
		case a == "-jar":
			o.mainArgs = args[i:]
			return o, nil
		case strings.HasPrefix(a, "-D"):
			k, v, _ := strings.Cut(a[2:], "=")
			o.props[k] = v
		case strings.HasPrefix(a, "-XX:"):
			if err := o.vmOption(a[4:]); err != nil {
				return o, err
			}
		case strings.HasPrefix(a, "-X") || strings.HasPrefix(a, "--"):
			o.notSettable = append(o.notSettable, a)
		case strings.HasPrefix(a, "-"):
			// Other launcher options (-server, -ea, -verbose…) are accepted
			// and ignored.
		default:
			o.mainArgs = args[i:]
			return o, nil
		}
	}
	return o, nil
}

// vmOption handles one -XX: option (without the prefix).
func (o *options) vmOption(s string) error {
	name, value, hasValue := strings.Cut(s, "=")
	flag := name
	if !hasValue && (strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-")) {
		flag = name[1:]
	}
	if !restoreSettable[flag] {
		o.notSettable = append(o.notSettable, flag)
	}
	if flag != name {
		if name[0] == '+' {
			o.vmFlags[flag] = true
		} else {
			o.vmFlagOff[flag] = true
		}
	}
	switch flag {
	case "CRaCCheckpointTo":
		o.checkpointTo = value
	case "CRaCRestoreFrom":
		o.restoreFrom = value
	case "CRaCEngine":
		o.engine = value
	case "CRaCMinPid":
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("improperly specified VM option 'CRaCMinPid=%s'", value)
		}
		o.minPID = n
	case "PrintFlagsFinal":
		o.printFlags = name[0] == '+'
	case "CRaCEngineOptions":
		for _, kv := range strings.Split(value, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k != "" {
				o.engineOptions[k] = v
			}
		}
	case "CRaCIgnoredFileDescriptors":
		for _, f := range strings.Split(value, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("improperly specified VM option 'CRaCIgnoredFileDescriptors=%s'", value)
			}
			o.ignoredFDs[n] = true
		}
	case "CPUFeatures":
		o.cpuFeatures = value
	case "EnableCRIUSupport":
		o.enableCRIU = name[0] == '+'
	}
	return nil
}

// duration reads a property or environment value like "100ms"; empty is 0.
func duration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse %s=%q: %w", name, s, err)
	}
	return d, nil
}
