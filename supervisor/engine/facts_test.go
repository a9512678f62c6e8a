package engine

import (
	"slices"
	"testing"
)

// TestRegistry: every engine is found by its name, and answers its facts.
func TestRegistry(t *testing.T) {
	if got, want := Names(), []string{"crac", "warp", "openj9", "criu"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	if New("auto") != nil || New("") != nil {
		t.Fatal("New knows auto or the empty name")
	}
	for _, tc := range []struct {
		name           string
		criu           CRIUUse
		pids, app, cpu bool
	}{
		{"crac", CRIUByJVM, true, true, false},
		{"warp", CRIUNone, false, true, false},
		{"openj9", CRIUByStasis, true, true, true},
		{"criu", CRIUByStasis, true, false, true},
	} {
		f, ok := FactsOf(tc.name)
		if !ok || f.CRIU != tc.criu || f.PreservesPIDs != tc.pids || f.AppTrigger != tc.app || f.CPUBound != tc.cpu {
			t.Errorf("FactsOf(%s) = %+v, %v", tc.name, f, ok)
		}
		if e := New(tc.name); e == nil || e.Name() != tc.name {
			t.Errorf("New(%s) = %v", tc.name, e)
		}
	}
	for _, ph := range []Phase{PhaseCheckpoint, PhaseRestore} {
		if n := NeedsOf("warp", ph, 0, HostFacts{}, nil); len(n.Caps) != 0 || n.CRIU {
			t.Errorf("warp needs %+v, want nothing", n)
		}
		// The needs follow the facts, not the name.
		for _, name := range Names() {
			f, _ := FactsOf(name)
			n := NeedsOf(name, ph, 0, HostFacts{}, []string{"java"})
			if n.CRIU != (f.CRIU == CRIUByStasis) {
				t.Errorf("%s %s: needs criu %v, facts %v", name, ph, n.CRIU, f.CRIU)
			}
			extra := f.ExtraCaps
			if ph == PhaseCheckpoint && f.DumpCaps != nil {
				extra = f.DumpCaps([]string{"java"})
			}
			for _, c := range extra {
				if !slices.Contains(n.Caps, c) {
					t.Errorf("%s %s: needs %v, lacks its extra cap %s", name, ph, n.Caps, CapName(c))
				}
			}
		}
	}
}
