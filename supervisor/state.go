package supervisor

import (
	"encoding/json"
	"sync"
	"time"
)

// Phases, as `stasis status` and `stasis healthcheck` report them.
const (
	PhaseLaunching     = "launching"
	PhaseWaitingReady  = "waiting-ready"
	PhaseWarming       = "warming"
	PhaseCheckpointing = "checkpointing"
	PhaseRestoring     = "restoring"
	PhaseRunning       = "running"
	PhaseStopping      = "stopping"
)

// How this start of the service happened.
const (
	StartCold        = "cold"
	StartRestored    = "restored"
	StartColdFailure = "cold-after-restore-failure"
)

// Status is what the control socket answers to status and health. The JSON
// names are stable: orchestrators and scripts read them.
type Status struct {
	Phase        string `json:"phase"`
	Mode         string `json:"mode"`
	Engine       string `json:"engine,omitempty"`
	PID          int    `json:"pid,omitempty"`   // the JVM (or the process standing for it)
	Start        string `json:"start,omitempty"` // cold, restored, cold-after-restore-failure
	RestoreMS    int64  `json:"restore_ms,omitempty"`
	RestoreError string `json:"restore_error,omitempty"`
	// Restore are the restore's phases, once it succeeded.
	Restore   *RestorePhases `json:"restore,omitempty"`
	StartedAt time.Time      `json:"started_at"` // when stasis started
	UptimeMS  int64          `json:"uptime_ms"`
	LastProbe string         `json:"last_probe,omitempty"`
	Health    string         `json:"health_probe,omitempty"` // the probe `stasis healthcheck` runs
	// Plan is what this start does and why (Plan's Decision), once
	// decided; after a failed restore, the fallback's.
	Plan *Decision `json:"plan,omitempty"`
}

// RestorePhases are where a restore's time went, in milliseconds from the
// start of the restore phase: the image check, the engine's restore (CRIU),
// and the first answer of the readiness probe (STASIS_CHECKPOINT_ON's http
// or tcp probe), which comes later and only when one is configured.
type RestorePhases struct {
	StartupMS int64 `json:"startup_ms"` // stasis's own start, before the restore phase
	CheckMS   int64 `json:"check_ms"`
	CRIUMS    int64 `json:"criu_ms"`
	ReadyMS   int64 `json:"ready_ms,omitempty"`
	// VerifyMS is the checksums' time; VerifyHeld: they ran during CRIU's
	// restore, the restored JVM held until they passed (else before it).
	VerifyMS    int64  `json:"checksums_ms"`
	VerifyHeld  bool   `json:"checksums_during_criu"`
	Kdat        string `json:"kerndat,omitempty"` // CRIU's kernel probe: "cache", or "probe (why)"
	KdatRetried bool   `json:"kerndat_retried,omitempty"`
}

// State is the live Status, shared between the phases and the control
// socket's goroutine.
type State struct {
	mu sync.Mutex
	s  Status
}

func newState() *State {
	return &State{s: Status{Phase: PhaseLaunching, StartedAt: time.Now()}}
}

// Snapshot returns the current Status.
func (st *State) Snapshot() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	if s.Restore != nil {
		r := *s.Restore // updated later (ready_ms): the copy is the caller's
		s.Restore = &r
	}
	s.UptimeMS = time.Since(s.StartedAt).Milliseconds()
	return s
}

// JSON is Snapshot encoded.
func (st *State) JSON() json.RawMessage {
	b, _ := json.Marshal(st.Snapshot())
	return b
}

func (st *State) update(f func(*Status)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f(&st.s)
}

func (st *State) setPhase(p string) { st.update(func(s *Status) { s.Phase = p }) }

func (st *State) running(pid int) {
	st.update(func(s *Status) {
		s.Phase, s.PID = PhaseRunning, pid
		if s.Start == "" {
			s.Start = StartCold
		}
	})
}

// Configure records the mode, engine and health probe.
func (st *State) Configure(mode, engine, health string) {
	st.update(func(s *Status) { s.Mode, s.Engine, s.Health = mode, engine, health })
}

// SetLastProbe records the last readiness probe's outcome.
func (st *State) SetLastProbe(v string) { st.update(func(s *Status) { s.LastProbe = v }) }
