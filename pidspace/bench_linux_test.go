package pidspace

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

const itersEnv = "PIDSPACE_TEST_ITERS"

// helperBench times advance(base+count) iters times inside the fresh namespace, resetting the
// counter to base by writing ns_last_pid before each untimed round, and reports the total.
func helperBench(count int, advance func(int) error) result {
	iters, err := strconv.Atoi(os.Getenv(itersEnv))
	if err != nil {
		return result{"error": "bad " + itersEnv}
	}
	base := 300
	var total time.Duration
	for range iters {
		if err := AdvanceByWriting(base); err != nil {
			return result{"error": err.Error()}
		}
		start := time.Now()
		if err := advance(base + count); err != nil {
			return result{"error": err.Error()}
		}
		total += time.Since(start)
		if last, err := LastPID(); err != nil || last < base+count {
			return result{"error": fmt.Sprintf("counter at %d (%v), want >= %d", last, err, base+count)}
		}
	}
	return result{"ns": total.Nanoseconds()}
}

// helperForkExec is the peer: the obvious way to use up PIDs, starting `true` count times.
func helperForkExec(count int) result {
	start := time.Now()
	for range count {
		if err := exec.Command("true").Run(); err != nil {
			return result{"error": err.Error()}
		}
	}
	return result{"ns_per_pid": time.Since(start).Nanoseconds() / int64(count)}
}

// BenchmarkAdvance reports, per advance of count PIDs measured inside the namespace helper:
// ns/op, ns/pid, and the speed-up over starting a process per PID (the peer, measured in the
// same run). Goals here: burn-1000 under 20 ms, write under 1 ms.
func BenchmarkAdvance(b *testing.B) {
	peer := float64(num(b, runHelper(b, "bench-forkexec", 50, false), "ns_per_pid"))
	for _, method := range []string{"burn", "write"} {
		for _, count := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s-%d", method, count), func(b *testing.B) {
				r := runHelper(b, "bench-"+method, count, false, itersEnv+"="+strconv.Itoa(b.N))
				perOp := float64(num(b, r, "ns")) / float64(b.N)
				b.ReportMetric(perOp, "ns/op")
				b.ReportMetric(perOp/float64(count), "ns/pid")
				b.ReportMetric(peer*float64(count)/perOp, "x-forkexec")
			})
		}
	}
}
