package httpget

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"
)

// rootCAs is the set of trusted roots: nil means the system's. Tests set it.
var rootCAs *x509.CertPool

// handshake runs the TLS handshake on nc for req, bounded by ctx and by
// dialTimeout. The certificate is verified against req's host name, unless
// req is Insecure and the peer, as connected, is a loopback address: a
// name that resolved elsewhere gets no exemption.
func handshake(ctx context.Context, nc net.Conn, req *Request) (net.Conn, error) {
	insecure := false
	if req.Insecure {
		if !loopbackPeer(nc) {
			nc.Close()
			return nil, fmt.Errorf("tls to %s: STASIS_PROBE_INSECURE=true skips verification for loopback targets only, and %s is not one", req.Addr, nc.RemoteAddr())
		}
		insecure = true
	}
	tc := tls.Client(nc, &tls.Config{
		ServerName:         req.URL.Hostname(),
		InsecureSkipVerify: insecure,
		RootCAs:            rootCAs,
		MinVersion:         tls.VersionTLS12,
	})
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		tc.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", req.Addr, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// loopbackPeer says whether nc's peer is on the loopback interface.
func loopbackPeer(nc net.Conn) bool {
	a, ok := nc.RemoteAddr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}
