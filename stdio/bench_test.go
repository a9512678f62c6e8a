//go:build linux

package stdio

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkForward copies a file of 100-byte lines through a pipe set to /dev/null, and, as the
// peer in the same run, through `cat FILE | cat > /dev/null`: the same pipe hop with cat as the
// forwarder. It reports both throughputs and stasis's share of cat's.
func BenchmarkForward(b *testing.B) {
	const lineLen, lines = 100, 1 << 19 // 50 MiB
	line := append(bytes.Repeat([]byte("x"), lineLen-1), '\n')
	file := filepath.Join(b.TempDir(), "lines")
	if err := os.WriteFile(file, bytes.Repeat(line, lines), 0o600); err != nil {
		b.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	var ours, peer time.Duration
	for b.Loop() {
		ours += timeIt(b, func() { forwardOnce(b, file, null) })
		peer += timeIt(b, func() { catOnce(b, file) })
	}
	mb := float64(lineLen*lines) / 1e6 * float64(b.N)
	b.ReportMetric(mb/ours.Seconds(), "MB/s")
	b.ReportMetric(float64(lines*b.N)/ours.Seconds(), "lines/s")
	b.ReportMetric(mb/peer.Seconds(), "cat-MB/s")
	b.ReportMetric(peer.Seconds()/ours.Seconds(), "ratio-vs-cat")
}

func timeIt(b *testing.B, f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func forwardOnce(b *testing.B, file string, dst *os.File) {
	s, err := Pipes(Options{Stdout: dst, Stderr: dst})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("cat", file)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin(), s.Stdout(), s.Stderr()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	_ = s.CloseChildEnds()
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(10 * time.Second); err != nil {
		b.Fatal(err)
	}
}

func catOnce(b *testing.B, file string) {
	if out, err := exec.Command("sh", "-c", fmt.Sprintf("cat %q | cat > /dev/null", file)).CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
}
