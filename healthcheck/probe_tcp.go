package healthcheck

import (
	"context"
	"fmt"
	"net"
)

// TCPProbe is ready when a connection to Addr (HOST:PORT) is accepted.
type TCPProbe struct {
	Addr string
}

func (p *TCPProbe) String() string { return "tcp://" + p.Addr }

// ProbeOnce connects once, bounded by ctx, and closes the connection at once.
func (p *TCPProbe) ProbeOnce(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return err // net.OpError already says "dial tcp ADDR: ..."
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("close connection to %s: %w", p.Addr, err)
	}
	return nil
}
