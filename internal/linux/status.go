package linux

import (
	"bytes"
	"fmt"
	"strconv"
)

// Status holds the lines of /proc/PID/status that stasis reads (proc(5)).
// A line the kernel does not show keeps the zero value, except those noted.
type Status struct {
	Name  string
	State byte // R, S, D, Z, T, t, X...
	Tgid  int  // the process a thread belongs to
	// NSpid is the PID in the innermost PID namespace (the last NSpid
	// field); 0 before Linux 4.1, which has no NSpid line.
	NSpid int
	// Uid and Gid are real, effective, saved and file-system ids; -1
	// without the line.
	Uid, Gid                               [4]int
	SigBlk, SigIgn, SigCgt                 uint64
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	Seccomp                                int // 0 disabled, 1 strict, 2 filter; -1 without the line

	caps map[string]bool // the Cap* lines present
}

// Gone reports a zombie or dead process: one that will run no more.
func (s Status) Gone() bool { return s.State == 'Z' || s.State == 'X' }

// Catches reports whether signal sig would reach a handler: bit sig-1 of
// SigCgt, and not ignored.
func (s Status) Catches(sig int) bool {
	if sig <= 0 || sig > 64 {
		return false
	}
	bit := uint64(1) << uint(sig-1)
	return s.SigCgt&bit != 0 && s.SigIgn&bit == 0
}

// Cap returns capability set set (CapEff, CapPrm, CapBnd, CapInh, CapAmb),
// or an error when the kernel showed no such line.
func (s Status) Cap(set string) (uint64, error) {
	if !s.caps[set] {
		return 0, fmt.Errorf("no %s line in /proc/PID/status", set)
	}
	return *s.capField(set), nil
}

// ParseStatus parses /proc/PID/status. Unknown lines are skipped; a known
// line that does not parse is an error naming it.
func ParseStatus(data []byte) (Status, error) {
	s := Status{Uid: [4]int{-1, -1, -1, -1}, Gid: [4]int{-1, -1, -1, -1}, Seccomp: -1}
	for line := range bytes.Lines(data) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key, f := string(k), bytes.Fields(v)
		if err := s.set(key, f); err != nil {
			return s, fmt.Errorf("parse %s line of status %q: %w", key, bytes.TrimSpace(v), err)
		}
	}
	return s, nil
}

func (s *Status) set(key string, f [][]byte) error {
	var err error
	switch key {
	case "Name":
		if len(f) > 0 {
			s.Name = string(f[0])
		}
	case "State":
		if len(f) == 0 || len(f[0]) != 1 {
			return fmt.Errorf("want one letter")
		}
		s.State = f[0][0]
	case "Tgid":
		s.Tgid, err = lastInt(f)
	case "NSpid":
		s.NSpid, err = lastInt(f)
	case "Uid":
		s.Uid, err = ids(f)
	case "Gid":
		s.Gid, err = ids(f)
	case "Seccomp":
		if s.Seccomp, err = lastInt(f); err == nil && (s.Seccomp < 0 || s.Seccomp > 2) {
			err = fmt.Errorf("mode %d", s.Seccomp)
		}
	case "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
		var n uint64
		if len(f) != 1 {
			return fmt.Errorf("want one hex mask")
		}
		if n, err = strconv.ParseUint(string(f[0]), 16, 64); err == nil {
			s.mask(key, n)
		}
	}
	return err
}

func (s *Status) mask(key string, n uint64) {
	switch key {
	case "SigBlk":
		s.SigBlk = n
	case "SigIgn":
		s.SigIgn = n
	case "SigCgt":
		s.SigCgt = n
	default:
		if s.caps == nil {
			s.caps = map[string]bool{}
		}
		s.caps[key] = true
		*s.capField(key) = n
	}
}

func (s *Status) capField(set string) *uint64 {
	switch set {
	case "CapInh":
		return &s.CapInh
	case "CapPrm":
		return &s.CapPrm
	case "CapEff":
		return &s.CapEff
	case "CapBnd":
		return &s.CapBnd
	}
	return &s.CapAmb
}

func lastInt(f [][]byte) (int, error) {
	if len(f) == 0 {
		return 0, fmt.Errorf("empty")
	}
	return strconv.Atoi(string(f[len(f)-1]))
}

// ids reads "real effective saved fs".
func ids(f [][]byte) ([4]int, error) {
	out := [4]int{-1, -1, -1, -1}
	if len(f) != 4 {
		return out, fmt.Errorf("want 4 ids, got %d", len(f))
	}
	for i := range out {
		n, err := strconv.ParseUint(string(f[i]), 10, 32)
		if err != nil {
			return out, err
		}
		out[i] = int(n)
	}
	return out, nil
}
