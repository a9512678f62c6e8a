package image

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// CPU is what the checkpoint host's processor offered: JIT-compiled code in
// an image may use any of these features, and a restore on a CPU that lacks
// one fails later with SIGILL. On x86 they are /proc/cpuinfo's "flags", on
// arm64 its "Features" (the kernel's hwcaps); elsewhere none are recorded
// and nothing is compared.
type CPU struct {
	Arch     string   `json:"arch"`
	Features []string `json:"features,omitempty"`
}

// HostCPU reads this host's CPU features from /proc/cpuinfo (the first
// processor's: the kernel reports the features common to all).
func HostCPU() (CPU, error) {
	return hostCPU("/proc/cpuinfo")
}

func hostCPU(path string) (CPU, error) {
	c := CPU{Arch: runtime.GOARCH}
	key := cpuinfoKey(c.Arch)
	if key == "" {
		return c, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("read the CPU's features: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 8192), 1<<20)
	for sc.Scan() {
		name, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if ok && string(bytes.TrimSpace(name)) == key {
			c.Features = strings.Fields(string(val))
			slices.Sort(c.Features)
			return c, nil
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read the CPU's features: %w", err)
	}
	return c, fmt.Errorf("read the CPU's features: %s has no %q line", path, key)
}

func cpuinfoKey(arch string) string {
	switch arch {
	case "amd64", "386":
		return "flags"
	case "arm64":
		return "Features"
	}
	return ""
}

// Missing lists the recorded features that host lacks. An image from
// another architecture lacks everything; one recorded without features
// (an architecture stasis does not read) is not compared.
func (c CPU) Missing(host CPU) []string {
	if c.Arch != host.Arch {
		return []string{"architecture " + c.Arch}
	}
	var missing []string
	for _, f := range c.Features {
		if _, found := slices.BinarySearch(host.Features, f); !found {
			missing = append(missing, f)
		}
	}
	return missing
}

// CheckCPU is the restore's CPU verdict: nil when every feature the image
// was made with is present here.
func (m *Manifest) CheckCPU(host CPU) error {
	if m.CPU == nil {
		return nil
	}
	if missing := m.CPU.Missing(host); len(missing) > 0 {
		return fmt.Errorf("this CPU lacks features the image was made with: %s (code compiled for them would crash with SIGILL)", strings.Join(missing, " "))
	}
	return nil
}
