package engine

import (
	"strings"
	"testing"
	"time"
)

// TestOutput keeps only the runtimes' own lines, however much else the
// application prints, and settle waits for lines still on their way.
func TestOutput(t *testing.T) {
	var o Output
	for i := 0; i < 1000; i++ {
		o.Feed("tick")
	}
	o.Feed("[1.2s][error][crac] CRaC engine failed to checkpoint to /c: error -1")
	o.Feed("warp: Checkpoint successful!")
	if got := o.Find("CRaC engine failed"); !strings.Contains(got, "error -1") {
		t.Fatalf("Find = %q", got)
	}
	if strings.Contains(o.All(), "tick") || strings.Count(o.All(), "\n") != 1 {
		t.Fatalf("All = %q, want the two runtime lines only", o.All())
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		o.Feed("Restore cannot continue, VM will exit.")
	}()
	o.settle(100*time.Millisecond, 2*time.Second)
	if o.Find("Restore cannot continue") == "" {
		t.Fatal("settle returned before the late line")
	}
	var none *Output
	none.Feed("x")
	if none.Find("x") != "" || none.All() != "" {
		t.Fatal("a nil Output keeps lines")
	}
}
