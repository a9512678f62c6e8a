package pidspace

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// procStat holds the fields of /proc/PID/stat that Holder reports.
type procStat struct {
	pid     int
	comm    string
	state   string
	ppid    int
	pgrp    int
	session int
}

// parseStat parses /proc/PID/stat. The command name sits in parentheses and may itself hold
// spaces and parentheses, so it ends at the LAST ')' (proc(5)).
func parseStat(data []byte) (procStat, error) {
	var st procStat
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return st, errors.New("parse stat: no command name in parentheses")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return st, fmt.Errorf("parse stat: pid: %w", err)
	}
	rest := bytes.Fields(data[end+1:])
	if len(rest) < 4 {
		return st, fmt.Errorf("parse stat: %d fields after the command name, want at least 4", len(rest))
	}
	st.pid, st.comm, st.state = pid, string(data[open+1:end]), string(rest[0])
	ints := []*int{&st.ppid, &st.pgrp, &st.session}
	for i, dst := range ints {
		if *dst, err = strconv.Atoi(string(rest[i+1])); err != nil {
			return st, fmt.Errorf("parse stat: field %d: %w", i+4, err)
		}
	}
	return st, nil
}

// parseTgid returns the Tgid line of /proc/PID/status: the process a thread belongs to.
func parseTgid(data []byte) (int, error) {
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("Tgid:")); ok {
			tgid, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, fmt.Errorf("parse status: tgid: %w", err)
			}
			return tgid, nil
		}
	}
	return 0, errors.New("parse status: no Tgid line")
}
