//go:build !linux

package engine

import "errors"

// ReadFacts: capabilities and seccomp are Linux's.
func ReadFacts() Facts {
	return Facts{Seccomp: -1, PtraceScope: -1, Err: errors.ErrUnsupported}
}

// ProcCaps: capabilities are Linux's.
func ProcCaps(int, string) (uint64, error) { return 0, errors.ErrUnsupported }
