package supervisor

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"stasis/control"
)

// TestManualTriggerPerSupervisor: `stasis checkpoint` fires the manual
// trigger of the Supervisor whose socket it reached, even when another
// Supervisor in the same process has fired its own.
func TestManualTriggerPerSupervisor(t *testing.T) {
	for i := range 2 {
		s := &Supervisor{State: newState(), manual: make(chan struct{}), manualWanted: true}
		s.State.setPhase(PhaseWaitingReady)
		dir := t.TempDir()
		srv, err := s.ServeControl(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if resp, err := control.Call(ctx, dir, control.Request{Op: control.OpCheckpoint}); err != nil || !resp.OK {
			t.Fatalf("supervisor %d: checkpoint request: %+v, %v", i+1, resp, err)
		}
		select {
		case <-s.manual:
		default:
			t.Fatalf("supervisor %d: checkpoint accepted, but its manual trigger did not fire", i+1)
		}
	}
}
