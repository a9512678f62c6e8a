package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"stasis/control"
)

// `stasis healthcheck` keeps answering with a hundred of them at once and
// idle connections held open on the control socket (stasis is PID 1 of a
// fresh namespace, the healthchecks separate processes, as exec probes are).
func TestHealthcheckUnderHundredParallelClients(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	startNS(t, []string{"STASIS_STATE_DIR=" + state}, "--mode=run", "--", "/bin/sleep", "120")
	waitControl(t, state)
	for range 30 { // idle clients: connected, never asking
		c, err := net.Dial("unix", control.SocketPath(state))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	var last string
	for range 100 {
		wg.Go(func() {
			cmd := exec.Command(stasisBin, "healthcheck")
			// The load of 100 processes on a shared machine is the test's, not
			// the server's: allow them the time to start.
			cmd.Env = append(os.Environ(), "STASIS_STATE_DIR="+state, "STASIS_HEALTH_TIMEOUT=20s")
			out, err := cmd.CombinedOutput()
			if err != nil {
				mu.Lock()
				failed++
				last = string(out)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d of 100 healthchecks failed; last: %s", failed, last)
	}
}

// waitControl waits until the stasis of state answers on its control
// socket. The socket file appearing is not enough: bind(2) creates it a
// moment before listen(2), and a connect in between is refused.
func waitControl(t *testing.T, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := control.Call(ctx, state, control.Request{Op: control.OpStatus})
		cancel()
		if err == nil && resp.OK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stasis does not answer on its control socket: %+v %v", resp, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
