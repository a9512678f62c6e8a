package triggers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flipServer answers 503 until ready is set, then 200.
type flipServer struct {
	*httptest.Server
	ready      atomic.Bool
	readyAt    atomic.Int64 // UnixNano of the flip
	n200, n503 atomic.Int64
}

func newFlipServer(t testing.TB) *flipServer {
	s := &flipServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			s.n503.Add(1)
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		s.n200.Add(1)
		_, _ = io.WriteString(w, "UP")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *flipServer) flip() {
	s.readyAt.Store(time.Now().UnixNano())
	s.ready.Store(true)
}

func mustSpec(t testing.TB, s string) Spec {
	t.Helper()
	spec, err := ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func waitCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestWaitHTTP(t *testing.T) {
	s := newFlipServer(t)
	time.AfterFunc(300*time.Millisecond, s.flip)
	start := time.Now()
	err := NewWaiter(mustSpec(t, s.URL+"/health")).Wait(waitCtx(t, 10*time.Second), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.ready.Load() || s.n503.Load() == 0 || s.n200.Load() != 1 {
		t.Errorf("Wait returned after %v with ready=%v, %d 503s, %d 200s; want ready, some 503s, one 200",
			time.Since(start), s.ready.Load(), s.n503.Load(), s.n200.Load())
	}
}

func TestWaitTCP(t *testing.T) {
	addr := closedAddr(t)
	var ln net.Listener
	var mu sync.Mutex
	time.AfterFunc(300*time.Millisecond, func() {
		mu.Lock()
		defer mu.Unlock()
		ln, _ = net.Listen("tcp", addr)
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if ln != nil {
			ln.Close()
		}
	})
	err := NewWaiter(mustSpec(t, "tcp://"+addr)).Wait(waitCtx(t, 10*time.Second), Env{})
	mu.Lock()
	defer mu.Unlock()
	if ln == nil {
		t.Skipf("could not listen again on %s", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestWaitFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	time.AfterFunc(300*time.Millisecond, func() { _ = os.WriteFile(path, nil, 0o644) })
	if err := NewWaiter(mustSpec(t, "file:"+path)).Wait(waitCtx(t, 10*time.Second), Env{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Wait returned before the file existed: %v", err)
	}
}

func TestWaitManual(t *testing.T) {
	manual := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- NewWaiter(mustSpec(t, "manual")).Wait(waitCtx(t, 10*time.Second), Env{Manual: manual})
	}()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before `stasis checkpoint`", err)
	case <-time.After(200 * time.Millisecond):
	}
	manual <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitDelay(t *testing.T) {
	started := time.Now()
	if err := NewWaiter(mustSpec(t, "delay:300ms")).Wait(waitCtx(t, 10*time.Second), Env{Started: started}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(started); d < 300*time.Millisecond {
		t.Fatalf("delay:300ms returned after %v", d)
	}
	// The delay counts from the JVM's start, not from Wait.
	start := time.Now()
	err := NewWaiter(mustSpec(t, "delay:1h")).Wait(waitCtx(t, 10*time.Second), Env{Started: time.Now().Add(-2 * time.Hour)})
	if err != nil || time.Since(start) > time.Second {
		t.Fatalf("delay already elapsed: Wait = %v after %v", err, time.Since(start))
	}
}

func TestWaitApp(t *testing.T) {
	err := NewWaiter(mustSpec(t, "app")).Wait(waitCtx(t, time.Second), Env{})
	if err != nil {
		t.Fatal(err)
	}
}

// All conditions must hold: Wait returns only after the last one.
func TestWaitAll(t *testing.T) {
	s := newFlipServer(t)
	path := filepath.Join(t.TempDir(), "ready")
	manual := make(chan struct{})
	var manualAt atomic.Int64
	time.AfterFunc(100*time.Millisecond, s.flip)
	time.AfterFunc(250*time.Millisecond, func() { _ = os.WriteFile(path, nil, 0o644) })
	time.AfterFunc(400*time.Millisecond, func() { manualAt.Store(time.Now().UnixNano()); close(manual) })
	w := NewWaiter(mustSpec(t, s.URL+"/,file:"+path+",manual,delay:50ms,log:warm(ed)?, ready"))
	time.AfterFunc(150*time.Millisecond, func() { w.Feed("app warm, ready\n") })
	err := w.Wait(waitCtx(t, 10*time.Second), Env{Manual: manual, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if manualAt.Load() == 0 || time.Now().UnixNano() < manualAt.Load() {
		t.Fatal("Wait returned before the manual trigger")
	}
}

func TestWaitTimeoutSaysWhy(t *testing.T) {
	s := newFlipServer(t) // never ready
	refused := closedAddr(t)
	spec := mustSpec(t, s.URL+"/health,tcp://"+refused+",log:Started,delay:1h")
	w := NewWaiter(spec)
	w.Feed("booting")
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	err := w.Wait(waitCtx(t, 600*time.Millisecond), Env{
		Tail:     func() []string { return []string{"booting", "still booting"} },
		Progress: 100 * time.Millisecond, Log: log,
	})
	var nr *NotReadyError
	if !errors.As(err, &nr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a NotReadyError wrapping DeadlineExceeded", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"wait for STASIS_CHECKPOINT_ON: context deadline exceeded after ",
		s.URL + "/health (last: GET " + s.URL + "/health: 503 Service Unavailable; ",
		"tcp://" + refused + " (last: dial tcp " + refused + ": connect: connection refused; ",
		"log:Started (no matching line yet)",
		"delay:1h (delay not elapsed)",
		`last output: "booting" "still booting"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if len(nr.Unmet) != 4 || nr.Unmet[0].Attempts < 2 {
		t.Errorf("Unmet = %+v, want 4 conditions, the probe attempted several times", nr.Unmet)
	}
	logs := out.String()
	if !strings.Contains(logs, "level=INFO msg=\"waiting for checkpoint conditions\"") {
		t.Errorf("no progress line in the log:\n%s", logs)
	}
	// One debug line per state change, not per attempt.
	if n := strings.Count(logs, `condition=`+s.URL+`/health state="GET`); n != 1 {
		t.Errorf("%d state lines for the 503 probe, want 1:\n%s", n, logs)
	}
}

func TestFeedConcurrent(t *testing.T) {
	w := NewWaiter(mustSpec(t, "log:line 4999$,log:^never"))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				if i%4 == g {
					w.Feed("line " + strconv.Itoa(i) + "\n")
				}
			}
		})
	}
	wg.Wait()
	if !w.logs[0].matched.Load() || w.logs[1].matched.Load() {
		t.Fatalf("matched = %v %v, want true false", w.logs[0].matched.Load(), w.logs[1].matched.Load())
	}
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

// jvm is a real JVM running testdata/LogReady.java, its output fed to a Waiter.
type jvm struct {
	started time.Time
	exited  chan struct{}
	mu      sync.Mutex
	lines   []string
}

func (j *jvm) tail() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines[max(0, len(j.lines)-5):]...)
}

var (
	compileOnce sync.Once
	classDir    string
	compileErr  error
)

func compileLogReady(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("javac not on PATH: cannot build the test JVM program")
	}
	compileOnce.Do(func() {
		classDir, compileErr = os.MkdirTemp("", "stasis-triggers-java")
		if compileErr == nil {
			out, err := exec.Command("javac", "-d", classDir, "testdata/LogReady.java").CombinedOutput()
			if err != nil {
				compileErr = errors.New("javac: " + err.Error() + ": " + string(out))
			}
		}
	})
	if compileErr != nil {
		t.Fatal(compileErr)
	}
	return classDir
}

func startJVM(t *testing.T, w *Waiter, args ...string) *jvm {
	dir := compileLogReady(t)
	cmd := exec.Command("java", append([]string{"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", dir, "LogReady"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	j := &jvm{started: time.Now(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		readers.Go(func() {
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				j.mu.Lock()
				j.lines = append(j.lines, sc.Text())
				j.mu.Unlock()
				w.Feed(sc.Text())
			}
		})
	}
	go func() {
		readers.Wait()
		_ = cmd.Wait()
		close(j.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-j.exited
	})
	return j
}

func TestWaitLogLineFromJVM(t *testing.T) {
	w := NewWaiter(mustSpec(t, `log:^Started LogReady in [0-9.]+ seconds \(JVM running\)$`))
	j := startJVM(t, w, "ready", "300")
	err := w.Wait(waitCtx(t, 60*time.Second), Env{Started: j.started, Exited: j.exited, Tail: j.tail})
	if err != nil {
		t.Fatal(err)
	}
	if tail := j.tail(); len(tail) == 0 || !strings.HasPrefix(tail[len(tail)-1], "Started LogReady") {
		t.Errorf("Wait returned before the JVM printed its line; output so far: %q", tail)
	}
}

func TestWaitJVMExitsFirst(t *testing.T) {
	refused := closedAddr(t)
	w := NewWaiter(mustSpec(t, "log:^Started,http://"+refused+"/health"))
	j := startJVM(t, w, "fail")
	err := w.Wait(waitCtx(t, 60*time.Second), Env{Started: j.started, Exited: j.exited, Tail: j.tail})
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err = %v, want ErrExited", err)
	}
	msg := err.Error()
	for _, want := range []string{"log:^Started (no matching line yet)", "connection refused", `"Error: port 8080 already in use"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
}

func TestWaitReportsEveryProbeOutcome(t *testing.T) {
	s := newFlipServer(t)
	time.AfterFunc(200*time.Millisecond, s.flip)
	var mu sync.Mutex
	var outcomes []string
	env := Env{OnProbe: func(c, o string) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, o)
	}}
	if err := NewWaiter(mustSpec(t, s.URL+"/health")).Wait(waitCtx(t, 10*time.Second), env); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) < 2 || outcomes[len(outcomes)-1] != "ok" || !strings.Contains(outcomes[0], "503") {
		t.Fatalf("outcomes %q: want 503s then ok", outcomes)
	}
}
