package procstatus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	caps, seccomp, err := Parse([]byte("Name:\tx\nCapEff:\t000001fffeffffff\nSeccomp:\t2\n"), "CapEff")
	if err != nil || caps != 0x1fffeffffff || seccomp != 2 {
		t.Fatalf("%x %d %v", caps, seccomp, err)
	}
	for _, bad := range []string{"", "CapEff:\tzz\n", "Seccomp:\t7\nCapEff:\t0\n"} {
		if _, _, err := Parse([]byte(bad), "CapEff"); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	st := "Name:\tjava\nCapPrm:\t000001ffffffffff\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n"
	if caps, seccomp, err := Parse([]byte(st), "CapEff"); err != nil || caps != 0xa80425fb || seccomp != 2 {
		t.Fatalf("%x %d %v", caps, seccomp, err)
	}
	if caps, _, err := Parse([]byte(st), "CapPrm"); err != nil || caps != 0x1ffffffffff {
		t.Fatalf("CapPrm %x %v", caps, err)
	}
	if _, _, err := Parse([]byte("Name:\tx\n"), "CapPrm"); err == nil {
		t.Fatal("no CapPrm line must be an error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("CapEff:\t000001fffeffffff\nSeccomp:\t0\n"))
	f.Add([]byte("Seccomp:\t2\n"))
	f.Add([]byte("CapEff: ffffffffffffffffff\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, seccomp, err := Parse(b, "CapEff")
		if err == nil && (seccomp < -1 || seccomp > 2) {
			t.Fatalf("seccomp %d accepted", seccomp)
		}
	})
}

func TestReadInt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n")
	os.WriteFile(p, []byte("40\n"), 0o644)
	if n := ReadInt(p, 0); n != 40 {
		t.Errorf("ReadInt = %d, want 40", n)
	}
	os.WriteFile(p, []byte("x\n"), 0o644)
	if n := ReadInt(p, -1); n != -1 {
		t.Errorf("ReadInt of no number = %d, want -1", n)
	}
	if n := ReadInt(filepath.Join(t.TempDir(), "none"), -1); n != -1 {
		t.Errorf("ReadInt of no file = %d, want -1", n)
	}
}

// TestCatches: the test process's Go runtime catches SIGURG; nobody
// catches anything for a PID that does not exist.
func TestCatches(t *testing.T) {
	if !Catches(os.Getpid(), 23) {
		t.Error("SIGURG (Go's preemption signal) not seen as caught by this process")
	}
	if Catches(1<<30, 23) {
		t.Error("a process that does not exist catches a signal")
	}
}
