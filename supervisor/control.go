package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"stasis/control"
)

// ServeControl answers the control socket in dir: status and health read the
// State; checkpoint is the manual trigger. A failure to listen is returned
// for the caller to log: the init works without the socket, only `stasis
// checkpoint`, status and healthcheck do not.
func (s *Supervisor) ServeControl(dir string, log *slog.Logger) (*control.Server, error) {
	return control.Listen(dir, s.handle, log)
}

func (s *Supervisor) handle(_ context.Context, req control.Request) control.Response {
	switch req.Op {
	case control.OpStatus, control.OpHealth:
		return control.Response{OK: true, Data: s.State.JSON()}
	case control.OpCheckpoint:
		return s.requestCheckpoint()
	}
	return control.Response{Error: fmt.Sprintf("unknown op %q", req.Op)}
}

// requestCheckpoint fires the manual trigger, once, and only while stasis
// waits for readiness with `manual` among its conditions.
func (s *Supervisor) requestCheckpoint() control.Response {
	st := s.State.Snapshot()
	if st.Phase != PhaseWaitingReady || !s.manualWanted {
		return control.Response{Error: fmt.Sprintf("not waiting for a manual checkpoint (phase %s; STASIS_CHECKPOINT_ON must include manual)", st.Phase)}
	}
	s.manualOnce.Do(func() { close(s.manual) })
	b, _ := json.Marshal(map[string]string{"message": "checkpoint requested"})
	return control.Response{OK: true, Data: b}
}
