//go:build !linux

package openj9attach

import (
	"context"
	"errors"
	"fmt"
)

// IsOpenJ9 is false where the protocol is not implemented.
func IsOpenJ9(pid int) bool { return false }

func execute(ctx context.Context, pid int, request string, opt Options) (map[string]string, error) {
	return nil, fmt.Errorf("OpenJ9 attach to pid %d: %w", pid, errors.ErrUnsupported)
}
