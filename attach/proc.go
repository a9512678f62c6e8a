package attach

import (
	"cmp"
	"fmt"
	"strings"
	"syscall"

	"stasis/internal/linux"
)

// procStatus holds what the handshake needs from /proc/PID/status.
type procStatus struct {
	state       byte // R, S, Z, ...
	nspid       int  // the pid the JVM sees in its own namespace
	euid, egid  int
	catchesQuit bool // SIGQUIT would reach a handler
}

// parseStatus reads /proc/PID/status. The JVM names its socket and trigger
// file after the last NSpid field (its pid in the innermost namespace); a
// kernel older than 4.1 has no NSpid, and then pid itself is right.
// Before HotSpot installs its SIGQUIT handler (early in start-up) or with
// -Xrs, SIGQUIT's default action terminates the process with a core dump,
// so catchesQuit decides whether it may be sent.
func parseStatus(data []byte, pid int) (procStatus, error) {
	st, err := linux.ParseStatus(data)
	if err != nil {
		return procStatus{}, err
	}
	ps := procStatus{state: st.State, nspid: cmp.Or(st.NSpid, pid), euid: st.Uid[1], egid: st.Gid[1],
		catchesQuit: st.Catches(int(syscall.SIGQUIT))}
	if ps.euid < 0 || ps.egid < 0 {
		return ps, fmt.Errorf("status has no Uid or Gid line")
	}
	if ps.nspid <= 0 {
		return ps, fmt.Errorf("status has NSpid %d", ps.nspid)
	}
	return ps, nil
}

// jvmKind classifies a process by the libraries in /proc/PID/maps. OpenJ9
// ships a libjvm.so too (a redirector), so libj9vm wins over libjvm.
type jvmKind int

const (
	notJVM jvmKind = iota
	hotSpot
	openJ9
)

func classifyMaps(maps []byte) jvmKind {
	kind := notJVM
	for _, p := range linux.MappedFiles(maps) {
		name := p[strings.LastIndexByte(p, '/')+1:]
		switch {
		case strings.HasPrefix(name, "libj9vm"):
			return openJ9
		case name == "libjvm.so":
			kind = hotSpot
		}
	}
	return kind
}

// attachDisabled reports whether -XX:+DisableAttachMechanism is in force,
// from the NUL-separated command line and the option variables the JVM
// reads. HotSpot processes JAVA_TOOL_OPTIONS, then the command line (where
// the launcher has already expanded JDK_JAVA_OPTIONS), then _JAVA_OPTIONS,
// and the last setting wins. Options in @argfiles or -XX:VMOptionsFile are
// not seen: then the socket just never appears and the caller times out.
func attachDisabled(cmdline []byte, toolOpts, javaOpts string) bool {
	disabled := false
	scan := func(args []string) {
		for _, a := range args {
			switch a {
			case "-XX:+DisableAttachMechanism":
				disabled = true
			case "-XX:-DisableAttachMechanism":
				disabled = false
			}
		}
	}
	scan(strings.Fields(toolOpts))
	scan(strings.Split(string(cmdline), "\x00"))
	scan(strings.Fields(javaOpts))
	return disabled
}

// environValue returns NAME's value in a NUL-separated environment block.
func environValue(environ []byte, name string) string {
	prefix := name + "="
	for _, kv := range strings.Split(string(environ), "\x00") {
		if v, ok := strings.CutPrefix(kv, prefix); ok {
			return v
		}
	}
	return ""
}
