package linux

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Stat holds the fields of /proc/PID/stat that stasis reads (proc(5)).
type Stat struct {
	PID       int
	Comm      string
	State     byte // R, S, D, Z, T, t, X...
	PPID      int
	PGRP      int
	Session   int
	StartTime uint64 // field 22, clock ticks after boot: a process's identity with its PID
}

// Gone reports a zombie or dead process: one that will run no more.
func (s Stat) Gone() bool { return s.State == 'Z' || s.State == 'X' }

// ParseStat parses /proc/PID/stat. The command name sits in parentheses
// and may itself hold spaces and parentheses (prctl(PR_SET_NAME) takes any
// bytes), so it ends at the LAST ')'.
func ParseStat(data []byte) (Stat, error) {
	var st Stat
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return st, errors.New("parse stat: no command name in parentheses")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return st, fmt.Errorf("parse stat: pid: %w", err)
	}
	// rest[0] is field 3 (state); starttime is field 22.
	rest := bytes.Fields(data[end+1:])
	if len(rest) < 20 {
		return st, fmt.Errorf("parse stat: %d fields after the command name, want at least 20", len(rest))
	}
	if len(rest[0]) != 1 {
		return st, fmt.Errorf("parse stat: state %q", rest[0])
	}
	st.PID, st.Comm, st.State = pid, string(data[open+1:end]), rest[0][0]
	for i, dst := range []*int{&st.PPID, &st.PGRP, &st.Session} {
		if *dst, err = strconv.Atoi(string(rest[i+1])); err != nil {
			return st, fmt.Errorf("parse stat: field %d: %w", i+4, err)
		}
	}
	if st.StartTime, err = strconv.ParseUint(string(rest[19]), 10, 64); err != nil {
		return st, fmt.Errorf("parse stat: field 22: %w", err)
	}
	return st, nil
}
