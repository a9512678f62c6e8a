package triggers

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An https readiness condition verifies the certificate unless the spec is
// made insecure (STASIS_PROBE_INSECURE=true, loopback targets).
func TestHTTPSCondition(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	spec, err := ParseSpec(srv.URL + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := spec.Conditions[0].Probe
	if err := p.ProbeOnce(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("probe of a self-signed server: %v, want a certificate error", err)
	}
	spec.SetInsecure(true)
	if err := p.ProbeOnce(ctx); err != nil {
		t.Fatalf("insecure probe on loopback: %v", err)
	}
}
