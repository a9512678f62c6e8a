package triggers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countServer counts requests per path and connections by state; /fail
// answers 500.
type countServer struct {
	*httptest.Server
	mu             sync.Mutex
	paths          map[string]int
	opened, closed int
}

func newCountServer(t testing.TB) *countServer {
	s := &countServer{paths: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths[r.URL.Path]++
		s.mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"hello":"world"}`))
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

func (s *countServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[path]
}

func (s *countServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.paths {
		n += c
	}
	return n
}

// assertAllClosed waits for the server to see every warm-up connection closed.
func (s *countServer) assertAllClosed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.mu.Lock()
		opened, closed := s.opened, s.closed
		s.mu.Unlock()
		if opened > 0 && opened == closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server saw %d connections opened, %d closed after Warmup returned", opened, closed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// execRunner runs argv with os/exec; the real one goes through stasis's reaper.
func execRunner(ctx context.Context, argv []string) (int, error) {
	err := exec.CommandContext(ctx, argv[0], argv[1:]...).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func TestWarmupExactCount(t *testing.T) {
	s := newCountServer(t)
	cfg := WarmupConfig{URLs: []string{s.URL + "/a", s.URL + "/b"}, Requests: 101, Concurrency: 4}
	res, err := Warmup(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.count("/a") != 51 || s.count("/b") != 50 {
		t.Errorf("server saw /a %d, /b %d; want 51 and 50 (round-robin over 101)", s.count("/a"), s.count("/b"))
	}
	if res.Requests != 101 || res.OK != 101 || res.Non2xx != 0 || res.Errors != 0 {
		t.Errorf("result = %+v, want 101 requests, all OK", res)
	}
	s.assertAllClosed(t)
}

func TestWarmupCountsFailures(t *testing.T) {
	s := newCountServer(t)
	refused := "http://" + closedAddr(t) + "/x"
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	cfg := WarmupConfig{URLs: []string{s.URL + "/ok", s.URL + "/fail", refused}, Requests: 30, Concurrency: 3}
	res, err := Warmup(context.Background(), cfg, nil, log)
	if err != nil {
		t.Fatalf("a warm-up with failed requests must not fail: %v", err)
	}
	if s.count("/ok") != 10 || s.count("/fail") != 10 {
		t.Errorf("server saw /ok %d, /fail %d; want 10 each", s.count("/ok"), s.count("/fail"))
	}
	if res.Requests != 30 || res.OK != 10 || res.Non2xx != 10 || res.Errors != 10 {
		t.Errorf("result = %+v, want 30 requests: 10 OK, 10 non-2xx, 10 errors", res)
	}
	if !strings.Contains(out.String(), `level=WARN msg="some warm-up requests failed" non2xx=10 errors=10`) {
		t.Errorf("no warning about the failures in the log:\n%s", out.String())
	}
	s.assertAllClosed(t)
}

// A warm-up whose every request got 404 warmed nothing: with the default
// STASIS_WARMUP_MIN_SUCCESS it fails, saying what the answers were.
func TestWarmupMinSuccess(t *testing.T) {
	s := newCountServer(t)
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	cases := []struct {
		name     string
		urls     []string
		requests int
		min      float64
		fail     bool
		says     []string
	}{
		{"all 404", []string{missing.URL + "/nope"}, 20, 0.95, true,
			[]string{"0 of 20 requests answered 2xx", "20 × 404 Not Found", "GET " + missing.URL + "/nope: 404 Not Found"}},
		{"one in 20 fails", []string{s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok",
			s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok",
			s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok", s.URL + "/ok",
			s.URL + "/fail"}, 20, 0.95, false, nil},
		{"half fail", []string{s.URL + "/ok", s.URL + "/fail"}, 20, 0.95, true,
			[]string{"10 of 20 requests answered 2xx", "needs 19", "10 × 200 OK", "10 × 500 Internal Server Error"}},
		{"half fail, 0.5 needed", []string{s.URL + "/ok", s.URL + "/fail"}, 20, 0.5, false, nil},
		{"refused", []string{"http://" + closedAddr(t) + "/x"}, 4, 0.95, true, []string{"4 without answer", "connection refused"}},
		{"0 accepts anything", []string{missing.URL + "/nope"}, 4, 0, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := WarmupConfig{URLs: c.urls, Requests: c.requests, Concurrency: 2, MinSuccess: c.min}
			_, err := Warmup(context.Background(), cfg, nil, nil)
			var wf *WarmupFailedError
			if c.fail != errors.As(err, &wf) {
				t.Fatalf("err = %v, want a WarmupFailedError: %v", err, c.fail)
			}
			for _, want := range c.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
		})
	}
}

func TestWarmupDefaultOnePerURL(t *testing.T) {
	s := newCountServer(t)
	res, err := Warmup(context.Background(), WarmupConfig{URLs: []string{s.URL + "/a", s.URL + "/b", s.URL + "/c"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.total() != 3 || s.count("/c") != 1 || res.Requests != 3 {
		t.Errorf("server saw %d requests, result %+v; want one per URL", s.total(), res)
	}
}

func TestWarmupDuration(t *testing.T) {
	s := newCountServer(t)
	old := warmupProgress
	warmupProgress = 50 * time.Millisecond
	t.Cleanup(func() { warmupProgress = old })
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	cfg := WarmupConfig{URLs: []string{s.URL + "/a"}, Duration: 300 * time.Millisecond, Concurrency: 2}
	res, err := Warmup(context.Background(), cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > 2*time.Second {
		t.Errorf("Elapsed = %v for Duration 300ms", res.Elapsed)
	}
	// Requests cut by the deadline reach the server but are not counted.
	if got := s.count("/a"); res.Requests < 10 || got < res.Requests || got > res.Requests+2 {
		t.Errorf("server saw %d, result counted %d", got, res.Requests)
	}
	if !strings.Contains(out.String(), `msg="warm-up progress"`) {
		t.Errorf("no progress line:\n%s", out.String())
	}
	s.assertAllClosed(t)
}

// Requests and Duration both set: whichever comes first.
func TestWarmupRequestsBeforeDuration(t *testing.T) {
	s := newCountServer(t)
	res, err := Warmup(context.Background(), WarmupConfig{URLs: []string{s.URL + "/a"}, Requests: 20, Duration: time.Hour}, nil, nil)
	if err != nil || res.Requests != 20 || s.count("/a") != 20 {
		t.Fatalf("Warmup = %+v, %v; server saw %d; want 20", res, err, s.count("/a"))
	}
}

func TestWarmupCanceled(t *testing.T) {
	s := newCountServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Warmup(ctx, WarmupConfig{URLs: []string{s.URL + "/a"}, Duration: time.Hour}, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	s.assertAllClosed(t)
}

func TestWarmupCmd(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	res, err := Warmup(context.Background(), WarmupConfig{Cmd: []string{"sh", "-c", "exit 3"}}, execRunner, log)
	if err != nil {
		t.Fatalf("a failing warm-up command must not fail the warm-up: %v", err)
	}
	if res.CmdExit != 3 {
		t.Errorf("CmdExit = %d, want 3", res.CmdExit)
	}
	if !strings.Contains(out.String(), `level=WARN msg="warm-up command failed; checkpointing anyway"`) ||
		!strings.Contains(out.String(), "exit=3") {
		t.Errorf("no warning naming the exit status:\n%s", out.String())
	}
	_, err = Warmup(context.Background(), WarmupConfig{Cmd: []string{"/nonexistent/warmup"}}, execRunner, nil)
	if err == nil || !strings.Contains(err.Error(), `run warm-up command "/nonexistent/warmup"`) {
		t.Errorf("missing command: err = %v", err)
	}
}

// The command runs after the URLs, and sees the server warmed.
func TestWarmupURLsThenCmd(t *testing.T) {
	s := newCountServer(t)
	var seen atomic.Int64
	run := func(ctx context.Context, argv []string) (int, error) {
		seen.Store(int64(s.count("/a")))
		return execRunner(ctx, argv)
	}
	res, err := Warmup(context.Background(), WarmupConfig{URLs: []string{s.URL + "/a"}, Requests: 7, Cmd: []string{"true"}}, run, nil)
	if err != nil || res.CmdExit != 0 || seen.Load() != 7 {
		t.Fatalf("Warmup = %+v, %v; the command saw %d requests done, want 7", res, err, seen.Load())
	}
}

func TestWarmupDelay(t *testing.T) {
	start := time.Now()
	if _, err := Warmup(context.Background(), WarmupConfig{Delay: 200 * time.Millisecond}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Delay 200ms: Warmup returned after %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Warmup(ctx, WarmupConfig{Delay: time.Hour}, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Delay past ctx: err = %v, want deadline exceeded", err)
	}
}

// A server that closes kept-alive connections now and then (like Tomcat's
// maxKeepAliveRequests) costs new connections, not errors or lost requests.
func TestWarmupServerClosesConnections(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			w.Header().Set("Connection", "close")
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Warmup(context.Background(), WarmupConfig{URLs: []string{srv.URL + "/"}, Requests: 60, Concurrency: 2}, nil, nil)
	if err != nil || res.OK != 60 || n.Load() != 60 {
		t.Fatalf("Warmup = %+v, %v; server saw %d; want 60 OK", res, err, n.Load())
	}
}

// https warm-up URLs: the certificate is verified by default, so a
// self-signed one fails every request (and so the warm-up); with Insecure,
// a loopback target is warmed up over TLS.
func TestWarmupHTTPS(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
	}))
	defer srv.Close()
	cfg := WarmupConfig{URLs: []string{srv.URL + "/"}, Requests: 10, Concurrency: 2, MinSuccess: 0.95}
	res, err := Warmup(context.Background(), cfg, nil, nil)
	var wf *WarmupFailedError
	if !errors.As(err, &wf) || !strings.Contains(err.Error(), "certificate") || n.Load() != 0 {
		t.Fatalf("Warmup against a self-signed certificate = %+v, %v; server saw %d; want it refused", res, err, n.Load())
	}
	cfg.Insecure = true
	res, err = Warmup(context.Background(), cfg, nil, nil)
	if err != nil || res.OK != 10 || n.Load() != 10 {
		t.Fatalf("insecure Warmup on loopback = %+v, %v; server saw %d; want 10 OK", res, err, n.Load())
	}
}

// Chunked and large bodies are drained, so the connection stays usable.
func TestWarmupBodies(t *testing.T) {
	s := newCountServer(t)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 64 {
			_, _ = w.Write(make([]byte, 16<<10)) // chunked, 1 MiB in all
			w.(http.Flusher).Flush()
		}
	}))
	defer big.Close()
	res, err := Warmup(context.Background(), WarmupConfig{URLs: []string{big.URL + "/", s.URL + "/a"}, Requests: 20, Concurrency: 1}, nil, nil)
	if err != nil || res.OK != 20 || s.count("/a") != 10 {
		t.Fatalf("Warmup = %+v, %v; want 20 OK", res, err)
	}
}
