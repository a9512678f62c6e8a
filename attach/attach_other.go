//go:build !linux

package attach

import (
	"context"
	"errors"
	"fmt"
)

func execute(ctx context.Context, pid int, req []byte, opt Options) ([]byte, error) {
	return nil, fmt.Errorf("attach to pid %d: %w", pid, errors.ErrUnsupported)
}
