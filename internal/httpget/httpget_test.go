package httpget

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server counts connections and records what each request looked like.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	conns  int
	closes []bool // r.Close of each request: did it ask to close?
	agents []string
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.closes = append(s.closes, r.Close)
		s.agents = append(s.agents, r.UserAgent())
		s.mu.Unlock()
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func mustRequest(t *testing.T, raw string, keepAlive bool) *Request {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	req, err := NewRequest(u, "stasis-test", keepAlive)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestNewRequest(t *testing.T) {
	req := mustRequest(t, "http://example.test/a%20b?x=1#frag", false)
	want := "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: stasis-test\r\nConnection: close\r\n\r\n"
	if string(req.raw) != want || req.Addr != "example.test:80" {
		t.Errorf("request %q to %s, want %q to example.test:80", req.raw, req.Addr, want)
	}
	if req := mustRequest(t, "http://[::1]:8080", true); req.Addr != "[::1]:8080" || !strings.HasPrefix(string(req.raw), "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n") {
		t.Errorf("request %q to %s", req.raw, req.Addr)
	}
	if req := mustRequest(t, "https://h/x", false); req.Addr != "h:443" || !req.TLS {
		t.Errorf("https request to %s (TLS %v), want h:443 over TLS", req.Addr, req.TLS)
	}
	for _, raw := range []string{"https:///x", "http:///x", "ftp://h/"} {
		u, _ := url.Parse(raw)
		if _, err := NewRequest(u, "x", false); err == nil {
			t.Errorf("NewRequest(%s) accepted", raw)
		}
	}
}

func TestGet(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		for range 8 { // chunked, larger than the read buffer
			_, _ = w.Write(make([]byte, 10000))
			w.(http.Flusher).Flush()
		}
	})
	resp, err := Get(context.Background(), mustRequest(t, s.URL+"/up", false), 1<<20)
	if err != nil || resp.Code != 200 || resp.Status != "200 OK" {
		t.Fatalf("Get /up = %+v, %v", resp, err)
	}
	resp, err = Get(context.Background(), mustRequest(t, s.URL+"/down", false), 1<<20)
	if err != nil || resp.Code != 503 || resp.Status != "503 Service Unavailable" {
		t.Fatalf("Get /down = %+v, %v", resp, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns != 2 || !s.closes[0] || !s.closes[1] || s.agents[0] != "stasis-test" {
		t.Errorf("server saw %d connections, close requested %v, agents %q; want 2, both asking to close",
			s.conns, s.closes, s.agents)
	}
}

// A kept-alive connection carries every request, whatever the body framing.
func TestConnKeepAlive(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			_, _ = w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte("b"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	})
	c, err := Dial(context.Background(), mustRequest(t, s.URL, true).Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 30 {
		path := []string{"/chunked", "/empty", "/json"}[i%3]
		resp, err := c.RoundTrip(mustRequest(t, s.URL+path, true), time.Now().Add(5*time.Second), 1<<20)
		if err != nil || resp.Code/100 != 2 || !resp.KeepAlive {
			t.Fatalf("request %d (%s) = %+v, %v", i, path, resp, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns != 1 {
		t.Errorf("server saw %d connections for 30 kept-alive requests, want 1", s.conns)
	}
}

func TestGetRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Get(context.Background(), mustRequest(t, "http://"+addr+"/", false), 0)
	if !errors.Is(err, syscall.ECONNREFUSED) || err.Error() != "dial tcp "+addr+": connect: connection refused" {
		t.Errorf("err = %v, want dial tcp %s: connect: connection refused", err, addr)
	}
}

// A server that accepts but never answers is cut off by ctx's deadline or
// its cancellation, and the error says which.
func TestGetHung(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	req := mustRequest(t, "http://"+ln.Addr().String()+"/", false)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Get(ctx, req, 0)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("after %v: err = %v, want deadline exceeded at 200ms", time.Since(start), err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, err = Get(ctx, req, 0)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("after %v: err = %v, want canceled at 100ms", time.Since(start), err)
	}

	// A deadline of RoundTrip's own is an i/o timeout, not ctx's error.
	c, err := Dial(context.Background(), req.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.RoundTrip(req, time.Now().Add(100*time.Millisecond), 0)
	if err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Errorf("RoundTrip past its deadline: err = %v, want an i/o timeout", err)
	}
}

// A server that closes a kept-alive connection shows as an EOF on the next
// request, which the warm-up retries on a new connection.
func TestRoundTripServerClosed(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	req := mustRequest(t, s.URL+"/", true)
	c, err := Dial(context.Background(), req.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.RoundTrip(req, time.Time{}, 100); err != nil {
		t.Fatal(err)
	}
	s.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	_, err = c.RoundTrip(req, time.Time{}, 100)
	if err == nil {
		t.Fatal("RoundTrip on a connection the server closed succeeded")
	}
}
