//go:build linux

package attach

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkJCmdVersusJcmd measures JCmd(pid, "VM.version") against the JDK's
// own `jcmd PID VM.version` on the same JVM in the same run. Both find the
// listener already running (the first attach is made before timing).
func BenchmarkJCmdVersusJcmd(b *testing.B) {
	if _, err := exec.LookPath("jcmd"); err != nil {
		b.Skipf("jcmd is not on PATH: %v", err)
	}
	j := startJVM(b)
	ctx := context.Background()
	if _, err := JCmd(ctx, j.pid, "VM.version", Options{}); err != nil {
		b.Fatal(err)
	}
	var ours, theirs time.Duration
	pid := strconv.Itoa(j.pid)
	for b.Loop() {
		start := time.Now()
		out, err := JCmd(ctx, j.pid, "VM.version", Options{})
		ours += time.Since(start)
		if err != nil || !strings.Contains(out, "OpenJDK") {
			b.Fatalf("JCmd: %q, %v", out, err)
		}
		start = time.Now()
		jout, err := exec.Command("jcmd", pid, "VM.version").CombinedOutput()
		theirs += time.Since(start)
		if err != nil || !strings.Contains(string(jout), "OpenJDK") {
			b.Fatalf("jcmd: %q, %v", jout, err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Microseconds())/1000/n, "stasis-ms/op")
	b.ReportMetric(float64(theirs.Microseconds())/1000/n, "jcmd-ms/op")
	b.ReportMetric(float64(theirs)/float64(ours), "jcmd/stasis")
}

// BenchmarkFirstAttach measures the SIGQUIT handshake against jcmd's: each
// iteration deletes the socket so that both have to start the listener.
func BenchmarkFirstAttachVersusJcmd(b *testing.B) {
	if _, err := exec.LookPath("jcmd"); err != nil {
		b.Skipf("jcmd is not on PATH: %v", err)
	}
	j := startJVM(b)
	ctx := context.Background()
	sock := socketOf(j.pid, j.pid)
	pid := strconv.Itoa(j.pid)
	var ours, theirs time.Duration
	for b.Loop() {
		removeSocket(b, sock)
		start := time.Now()
		if _, err := JCmd(ctx, j.pid, "VM.version", Options{}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		removeSocket(b, sock)
		start = time.Now()
		if out, err := exec.Command("jcmd", pid, "VM.version").CombinedOutput(); err != nil {
			b.Fatalf("jcmd: %q, %v", out, err)
		}
		theirs += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Microseconds())/1000/n, "stasis-ms/op")
	b.ReportMetric(float64(theirs.Microseconds())/1000/n, "jcmd-ms/op")
	b.ReportMetric(float64(theirs)/float64(ours), "jcmd/stasis")
}
