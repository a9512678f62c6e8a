package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParseProbeErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"http//x", "unknown probe"},
		{"tcp://nohostport", `"tcp://nohostport": missing port`},
		{"tcp://", "missing host and port"},
		{"tcp://:80", "missing host"},
		{"tcp://h:0", "bad port"},
		{"tcp://h:99999", "bad port"},
		{"tcp://h:x", "bad port"},
		{"tcp://h:80/path", "unexpected path"},
		{"http://", "missing host"},
		{"http://:8080/x", "missing host"},
		{"http://h:0/", "bad port"},
		{"http://h:/", "missing port"},
		{"http://u:p@h/", "user info"},
		{"http://h:80/%zz", "invalid URL escape"},
		{"file:", "missing path"},
		{"ftp://h/", "unknown probe"},
		{"", "unknown probe"},
	} {
		_, err := ParseProbe(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseProbe(%q) = %v, want error containing %q", tc.spec, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseProbe(%q) error spans lines: %q", tc.spec, err)
		}
	}
}

func TestParseProbeOK(t *testing.T) {
	for _, spec := range []string{
		"http://127.0.0.1:8080/health", "http://localhost/ready", "http://[::1]:80/",
		"tcp://127.0.0.1:5432", "tcp://[::1]:80", "file:/tmp/ready", "file:rel/path",
	} {
		p, err := ParseProbe(spec)
		if err != nil {
			t.Errorf("ParseProbe(%q): %v", spec, err)
			continue
		}
		if p.String() != spec {
			t.Errorf("ParseProbe(%q).String() = %q", spec, p.String())
		}
	}
}

// flipServer answers 503 until ready is set, then 200; it counts connections
// by state so tests can see that a probe leaves none open.
type flipServer struct {
	*httptest.Server
	ready          atomic.Bool
	mu             sync.Mutex
	opened, closed int
}

func newFlipServer(t *testing.T) *flipServer {
	s := &flipServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(strings.Repeat("ok", 100000))) // larger than maxProbeBody
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.opened++
		case http.StateClosed, http.StateHijacked:
			s.closed++
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *flipServer) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened - s.closed
}

func TestHTTPProbe(t *testing.T) {
	s := newFlipServer(t)
	p, err := ParseProbe(s.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { s.ready.Store(true) })
	var last error
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := p.ProbeOnce(ctx)
		cancel()
		if err == nil {
			break
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	if !s.ready.Load() {
		t.Fatal("probe never succeeded")
	}
	var se *StatusError
	if !errors.As(last, &se) || se.Code != 503 {
		t.Fatalf("error before ready = %v, want a 503 StatusError", last)
	}
	want := "GET " + s.URL + "/health: 503 Service Unavailable"
	if last.Error() != want {
		t.Errorf("error = %q, want %q", last, want)
	}
	// No keep-alive: the server must see every probe connection closed.
	waitFor(t, func() bool { return s.openConns() == 0 }, "probe connections closed")
}

func TestHTTPProbeRefused(t *testing.T) {
	addr := closedAddr(t)
	p, err := ParseProbe("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	err = p.ProbeOnce(context.Background())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want connection refused", err)
	}
	if want := "GET http://" + addr + "/health: dial tcp " + addr; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want prefix %q", err, want)
	}
}

// A target that accepts but never answers must not hang the probe past ctx.
func TestHTTPProbeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, _ := ParseProbe("http://" + ln.Addr().String() + "/")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.ProbeOnce(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %v past a 200ms deadline", d)
	}
}

// Probes ignore HTTP_PROXY: readiness is about the local app.
func TestHTTPProbeIgnoresProxy(t *testing.T) {
	s := newFlipServer(t)
	s.ready.Store(true)
	t.Setenv("HTTP_PROXY", "http://"+closedAddr(t))
	t.Setenv("http_proxy", "http://"+closedAddr(t))
	p, _ := ParseProbe(s.URL + "/")
	if err := p.ProbeOnce(context.Background()); err != nil {
		t.Fatalf("probe went through the proxy: %v", err)
	}
}

func TestTCPProbe(t *testing.T) {
	addr := closedAddr(t)
	p, err := ParseProbe("tcp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	err = p.ProbeOnce(context.Background())
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "dial tcp "+addr) {
		t.Fatalf("err before listen = %v, want dial tcp %s: ... connection refused", err, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			// The probe closes its end at once: the read sees EOF.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		accepted <- err
	}()
	if err := p.ProbeOnce(context.Background()); err != nil {
		t.Fatalf("probe of a listening port: %v", err)
	}
	if err := <-accepted; err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("server side read = %v, want EOF (probe closed its connection)", err)
	}
}

func TestFileProbe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	p, _ := ParseProbe("file:" + path)
	err := p.ProbeOnce(context.Background())
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want not-exist naming %s", err, path)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.ProbeOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseProbe(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/health", "https://h/", "tcp://h:1", "tcp://[::1]:2",
		"file:/x", "http//x", "tcp://nohostport", "", "tcp://:", "http://[::1", "http://h:%30/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParseProbe(spec)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(spec, "\n") {
				t.Fatalf("multi-line error for %q: %q", spec, err)
			}
			return
		}
		if p.String() == "" {
			t.Fatalf("empty String() for %q", spec)
		}
		if tp, ok := p.(*TCPProbe); ok {
			if _, _, err := net.SplitHostPort(tp.Addr); err != nil {
				t.Fatalf("accepted %q with bad address %q", spec, tp.Addr)
			}
		}
	})
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
