package healthcheck

import (
	"context"
	"os"
)

// FileProbe is ready when Path exists (the app, or a script, creates it).
type FileProbe struct {
	Path string
}

func (p *FileProbe) String() string { return "file:" + p.Path }

// ProbeOnce checks once whether Path exists; the error is os.Stat's, which
// names the path ("stat /tmp/ready: no such file or directory").
func (p *FileProbe) ProbeOnce(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := os.Stat(p.Path)
	return err
}
