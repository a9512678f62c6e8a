package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadHostFacts reads what this process may do from /proc: its effective
// capabilities and seccomp mode (/proc/self/status), the kernel's last
// capability and Yama's ptrace scope. They are the container's, which
// stasis passes on to the criu it starts and to the JVM.
func ReadHostFacts() HostFacts {
	f := HostFacts{Seccomp: -1, PtraceScope: readInt("/proc/sys/kernel/yama/ptrace_scope", -1),
		CapLast: readInt("/proc/sys/kernel/cap_last_cap", 0)}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		f.Err = err
		return f
	}
	f.CapEff, f.Seccomp, f.Err = ParseStatus(b, "CapEff")
	return f
}

// ProcCaps reads one capability set (CapPrm, CapEff…) of process pid.
func ProcCaps(pid int, set string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	caps, _, err := ParseStatus(b, set)
	return caps, err
}

// ParseStatus reads capability set `set` (hex) and Seccomp from a
// /proc/PID/status.
func ParseStatus(b []byte, set string) (caps uint64, seccomp int, err error) {
	seccomp = -1
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case set:
			if caps, err = strconv.ParseUint(v, 16, 64); err != nil {
				return 0, -1, fmt.Errorf("parse %s %q: %w", set, v, err)
			}
			found = true
		case "Seccomp":
			if n, err := strconv.Atoi(v); err == nil {
				seccomp = n
			}
		}
	}
	if !found {
		return 0, seccomp, errors.New("no " + set + " line in /proc/PID/status")
	}
	return caps, seccomp, nil
}

func readInt(path string, otherwise int) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return otherwise
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return otherwise
	}
	return n
}
