package image

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestHostCPUAndMissing(t *testing.T) {
	key := cpuinfoKey(runtime.GOARCH)
	if key == "" {
		t.Skipf("stasis records no CPU features on %s", runtime.GOARCH)
	}
	p := filepath.Join(t.TempDir(), "cpuinfo")
	data := "processor\t: 0\nvendor_id\t: GenuineIntel\n" + key + "\t\t: sse2 avx2 fpu\n\nprocessor\t: 1\n" + key + "\t\t: fpu\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := hostCPU(p)
	if err != nil || !slices.Equal(c.Features, []string{"avx2", "fpu", "sse2"}) {
		t.Fatalf("hostCPU = %+v, %v; want the first processor's features, sorted", c, err)
	}
	host := CPU{Arch: c.Arch, Features: []string{"fpu", "sse2"}}
	if got := c.Missing(host); !slices.Equal(got, []string{"avx2"}) {
		t.Errorf("Missing = %v, want [avx2]", got)
	}
	m := &Manifest{CPU: &c}
	if err := m.CheckCPU(host); err == nil || !strings.Contains(err.Error(), "avx2") {
		t.Errorf("CheckCPU = %v, want avx2 named", err)
	}
	if err := m.CheckCPU(c); err != nil {
		t.Errorf("CheckCPU on the same CPU = %v", err)
	}
	if err := (&Manifest{}).CheckCPU(host); err != nil {
		t.Errorf("an image without CPU features (older stasis) is not compared: %v", err)
	}
	other := CPU{Arch: "riscv64"}
	if got := c.Missing(other); len(got) != 1 || !strings.Contains(got[0], "architecture") {
		t.Errorf("Missing on another architecture = %v", got)
	}
	if _, err := hostCPU(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("hostCPU of a missing file: no error")
	}
}

// The real /proc/cpuinfo of this machine parses and has features.
func TestHostCPUHere(t *testing.T) {
	if cpuinfoKey(runtime.GOARCH) == "" {
		t.Skipf("stasis records no CPU features on %s", runtime.GOARCH)
	}
	c, err := HostCPU()
	if err != nil || len(c.Features) == 0 {
		t.Fatalf("HostCPU = %+v, %v", c, err)
	}
}

// BenchmarkRestoreChecks measures what the CPU check adds to a restore's
// checks, against the image verification that runs right before it on the
// same path. Compare cpu's ns/op with verify's: the ratio is the check's
// share (the image is small, 16 MiB, so the ratio is an upper bound).
func BenchmarkRestoreChecks(b *testing.B) {
	dir := b.TempDir()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for i := 0; i < 16; i++ {
		if err := os.WriteFile(filepath.Join(dir, "pages-"+string(rune('a'+i))+".img"), chunk, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	files, total, err := Scan(dir, testNames)
	if err != nil {
		b.Fatal(err)
	}
	host, err := HostCPU()
	if err != nil {
		b.Skip(err)
	}
	m := &Manifest{Files: files, ImageBytes: total, CPU: &host}
	b.Run("cpu", func(b *testing.B) {
		for b.Loop() {
			h, err := HostCPU()
			if err != nil {
				b.Fatal(err)
			}
			if err := m.CheckCPU(h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := m.Verify(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}
