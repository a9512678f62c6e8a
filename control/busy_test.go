//go:build linux

package control

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"
)

// idle opens n connections that never send a request.
func idle(t *testing.T, dir string, n int) {
	t.Helper()
	for range n {
		c, err := net.Dial("unix", SocketPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// Idle connections (more than the old limit of 16) do not shut out a health request.
func TestIdleConnectionsDoNotStarveHealth(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	listen(t, dir, r.handle)
	idle(t, dir, 40)
	if resp := call(t, dir, OpHealth); !resp.OK {
		t.Fatalf("health with 40 idle connections open: %+v", resp)
	}
}

// Past maxConns, a client gets the busy reply, not a reset connection.
func TestBusyIsAnAnswer(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	listen(t, dir, r.handle)
	idle(t, dir, maxConns)
	time.Sleep(50 * time.Millisecond) // the server has accepted them all
	// Clients that send at once and clients slower than the server: the
	// request is read before the reply, so neither write nor read fails.
	for _, delay := range []time.Duration{0, 0, 0, 100 * time.Millisecond, 300 * time.Millisecond} {
		c, err := net.Dial("unix", SocketPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		time.Sleep(delay)
		if _, err := c.Write([]byte(`{"op":"health"}` + "\n")); err != nil {
			t.Fatalf("write after %v: %v", delay, err)
		}
		line, err := bufio.NewReader(c).ReadBytes('\n')
		c.Close()
		if err != nil {
			t.Fatalf("past %d connections: %v (want the busy reply)", maxConns, err)
		}
		var resp Response
		if json.Unmarshal(line, &resp) != nil || !resp.Busy || resp.OK {
			t.Fatalf("past %d connections: got %q, want a busy reply", maxConns, line)
		}
	}
	// Call retries a busy server until its context ends, then returns the busy reply.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	resp, err := Call(ctx, dir, Request{Op: OpHealth})
	if err != nil || !resp.Busy {
		t.Fatalf("Call on a busy server: %+v, %v", resp, err)
	}
}

// A hundred clients at once, beside idle connections, are all answered.
func TestHundredParallelClients(t *testing.T) {
	dir := t.TempDir()
	r := recorder{delay: time.Millisecond}
	listen(t, dir, r.handle)
	idle(t, dir, 20)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 100 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := Call(ctx, dir, Request{Op: OpHealth})
			if err != nil {
				errs <- err.Error()
			} else if !resp.OK {
				errs <- resp.Error
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
