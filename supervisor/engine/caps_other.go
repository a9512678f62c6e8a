//go:build !linux

package engine

import "errors"

// ReadHostFacts: capabilities and seccomp are Linux's.
func ReadHostFacts() HostFacts {
	return HostFacts{Seccomp: -1, PtraceScope: -1, Err: errors.ErrUnsupported}
}

// ProcCaps: capabilities are Linux's.
func ProcCaps(int, string) (uint64, error) { return 0, errors.ErrUnsupported }
