// Package procstatus reads what /proc says a process may do: a capability
// set, the seccomp mode and the caught signals from /proc/PID/status, and the numbers of
// /proc/sys files. It is stasis's one reader of them: the doctor
// (healthcheck) and the engines' preflight (supervisor/engine) both use it.
// It must not import any other stasis package.
package procstatus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Parse reads capability set `set` (hex: CapEff, CapPrm…) and Seccomp (0
// disabled, 1 strict, 2 filter; -1 without the line) from a
// /proc/PID/status.
func Parse(b []byte, set string) (caps uint64, seccomp int, err error) {
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
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return 0, -1, fmt.Errorf("parse %s %q: %w", set, v, err)
			}
			caps, found = n, true
		case "Seccomp":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 2 {
				return 0, -1, fmt.Errorf("parse Seccomp %q", v)
			}
			seccomp = n
		}
	}
	if !found {
		return 0, seccomp, errors.New("no " + set + " line in /proc/PID/status")
	}
	return caps, seccomp, nil
}

// ReadInt reads the number in a file such as
// /proc/sys/kernel/cap_last_cap, or returns otherwise.
func ReadInt(path string, otherwise int) int {
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

// Catches says whether process pid has a handler for signal sig: bit sig-1
// of SigCgt in /proc/PID/status. False when the process is gone.
func Catches(pid, sig int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	mask, _, err := Parse(b, "SigCgt")
	return err == nil && sig > 0 && mask&(1<<uint(sig-1)) != 0
}
