package attach

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// procStatus holds the fields of /proc/PID/status that the handshake needs.
type procStatus struct {
	state      byte // R, S, Z, ...
	nspid      int  // the pid the JVM sees in its own namespace
	euid, egid int
	sigCgt     uint64 // signals with a handler installed
	sigIgn     uint64
}

const sigquitBit = 1 << (3 - 1) // SIGQUIT is signal 3

// catchesQuit reports whether SIGQUIT would reach a handler. Before HotSpot
// installs its handler (early in start-up) or with -Xrs, SIGQUIT's default
// action terminates the process with a core dump, so it must not be sent.
func (s procStatus) catchesQuit() bool {
	return s.sigCgt&sigquitBit != 0 && s.sigIgn&sigquitBit == 0
}

// parseStatus reads /proc/PID/status. The JVM names its socket and trigger
// file after the last NSpid field (its pid in the innermost namespace); a
// kernel older than 4.1 has no NSpid, and then pid itself is right.
func parseStatus(data []byte, pid int) (procStatus, error) {
	st := procStatus{nspid: pid, euid: -1, egid: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		var err error
		switch key {
		case "State":
			st.state = fields[0][0]
		case "NSpid":
			st.nspid, err = strconv.Atoi(fields[len(fields)-1])
		case "Uid":
			st.euid, err = secondField(fields)
		case "Gid":
			st.egid, err = secondField(fields)
		case "SigCgt":
			st.sigCgt, err = strconv.ParseUint(fields[0], 16, 64)
		case "SigIgn":
			st.sigIgn, err = strconv.ParseUint(fields[0], 16, 64)
		}
		if err != nil {
			return st, fmt.Errorf("parse %s line of status: %w", key, err)
		}
	}
	if st.euid < 0 || st.egid < 0 {
		return st, fmt.Errorf("status has no Uid or Gid line")
	}
	if st.nspid <= 0 {
		return st, fmt.Errorf("status has NSpid %d", st.nspid)
	}
	return st, nil
}

// secondField returns the effective id from "real effective saved fs".
func secondField(fields []string) (int, error) {
	if len(fields) < 2 {
		return 0, fmt.Errorf("want real and effective ids, got %q", strings.Join(fields, " "))
	}
	id, err := strconv.ParseUint(fields[1], 10, 32)
	return int(id), err
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
	for len(maps) > 0 {
		var line []byte
		line, maps, _ = bytes.Cut(maps, []byte{'\n'})
		i := bytes.LastIndexByte(line, '/')
		if i < 0 {
			continue
		}
		name := line[i+1:]
		switch {
		case bytes.HasPrefix(name, []byte("libj9vm")):
			return openJ9
		case bytes.Equal(name, []byte("libjvm.so")):
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
