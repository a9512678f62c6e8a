package httpget

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tlsServer is an https server on loopback with a self-signed certificate.
func tlsServer(t *testing.T) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secure "+r.URL.Path)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused by the client
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// A self-signed certificate is refused by default; Insecure accepts it on
// loopback, and the answer comes over TLS, also on a kept-alive connection.
func TestGetHTTPS(t *testing.T) {
	s := tlsServer(t)
	req := mustRequest(t, s.URL+"/ready", false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Get(ctx, req, 1<<20); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("GET with verification against a self-signed certificate: %v, want a certificate error", err)
	}
	req.Insecure = true
	resp, err := Get(ctx, req, 1<<20)
	if err != nil || resp.Code != 200 {
		t.Fatalf("insecure GET on loopback: %+v, %v", resp, err)
	}
	keep := mustRequest(t, s.URL+"/a", true)
	keep.Insecure = true
	c, err := DialFor(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		resp, err := c.RoundTrip(keep, time.Now().Add(5*time.Second), 1<<20)
		if err != nil || resp.Code != 200 || !resp.KeepAlive {
			t.Fatalf("kept-alive TLS round trip: %+v, %v", resp, err)
		}
	}
}

// A certificate that verifies (the server's own CA trusted) passes with
// verification on: verification is real, not a refusal of all TLS.
func TestGetHTTPSVerified(t *testing.T) {
	s := tlsServer(t)
	// httptest's certificate is for 127.0.0.1 and example.com; trust it.
	pool := s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	req := mustRequest(t, s.URL+"/ok", false)
	old := rootCAs
	rootCAs = pool
	defer func() { rootCAs = old }()
	resp, err := Get(context.Background(), req, 1<<20)
	if err != nil || resp.Code != 200 {
		t.Fatalf("GET with a trusted certificate: %+v, %v", resp, err)
	}
}

// fakeConn is a connection whose peer is not on loopback; nothing is sent.
type fakeConn struct {
	net.Conn
	remote net.Addr
	wrote  bool
}

func (f *fakeConn) RemoteAddr() net.Addr        { return f.remote }
func (f *fakeConn) Write(b []byte) (int, error) { f.wrote = true; return len(b), nil }
func (f *fakeConn) Close() error                { return nil }

// Insecure is refused for a peer outside loopback, before any TLS byte is
// sent, whatever name it was dialled by.
func TestInsecureRefusedOffLoopback(t *testing.T) {
	req := mustRequest(t, "https://localhost:8443/", false)
	req.Insecure = true
	fc := &fakeConn{remote: &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8443}}
	_, err := handshake(context.Background(), fc, req)
	if err == nil || !strings.Contains(err.Error(), "loopback targets only") || fc.wrote {
		t.Fatalf("insecure handshake with 192.0.2.10: %v (wrote %v)", err, fc.wrote)
	}
}
