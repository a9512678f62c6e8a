package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestJudgePhasesWithoutProbing(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p, _ := ParseProbe(srv.URL + "/health")
	for phase, want := range map[string]string{
		"launching": "starting", "waiting-ready": "waiting for readiness", "warming": "warming",
		"checkpointing": "checkpointing", "restoring": "restoring", "stopping": "stopping", "bogus": "unknown phase",
	} {
		v := Judge(context.Background(), Phase{Phase: phase}, p)
		if v.Healthy || !strings.Contains(v.Reason, want) {
			t.Errorf("phase %s: %+v, want unhealthy saying %q", phase, v, want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the probe ran %d times outside the running phase: it must never touch a JVM being checkpointed", n)
	}
}

func TestJudgeRunning(t *testing.T) {
	code := atomic.Int64{}
	code.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(code.Load())) }))
	defer srv.Close()
	p, _ := ParseProbe(srv.URL + "/health")
	ctx := context.Background()

	if v := Judge(ctx, Phase{Phase: "running", Start: "restored"}, p); !v.Healthy || !strings.Contains(v.Reason, "restored") {
		t.Fatalf("restored and answering: %+v", v)
	}
	if v := Judge(ctx, Phase{Phase: "running", Start: "cold"}, nil); !v.Healthy || !strings.Contains(v.Reason, "no health probe") {
		t.Fatalf("running without a probe: %+v", v)
	}
	code.Store(503)
	if v := Judge(ctx, Phase{Phase: "running", Start: "restored"}, p); v.Healthy || !strings.Contains(v.Reason, "probe failed: status 503") {
		t.Fatalf("503: %+v", v)
	}
	v := Judge(ctx, Phase{Phase: "running", Start: "cold-after-restore-failure", RestoreError: "pid 1001 is taken"}, p)
	if v.Healthy || !strings.Contains(v.Reason, "restore failed and cold start under way") || !strings.Contains(v.Reason, "503") {
		t.Fatalf("cold after failure, failing: %+v", v)
	}
	code.Store(204)
	v = Judge(ctx, Phase{Phase: "running", Start: "cold-after-restore-failure", RestoreError: "pid 1001 is taken"}, p)
	if !v.Healthy || !strings.Contains(v.Reason, "pid 1001 is taken") {
		t.Fatalf("cold after failure, answering: %+v", v)
	}
}

// A JVM that accepts but never answers (stopped, or stuck in a GC) must not
// hang the healthcheck past its deadline.
func TestJudgeHungTargetHonoursDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never answers
		}
	}()
	p, _ := ParseProbe("http://" + ln.Addr().String() + "/health")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	v := Judge(ctx, Phase{Phase: "running", Start: "cold"}, p)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v with a 200ms deadline", el)
	}
	if v.Healthy || !strings.Contains(v.Reason, "no answer in time") {
		t.Fatalf("hung target: %+v", v)
	}
}
