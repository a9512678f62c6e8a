package engine

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

const capNetAdmin = 12

// haveCap reads this process's effective capabilities from /proc: the
// capability sets that decide what CRIU may do are the container's, which
// stasis passes on to the criu it starts.
func haveCap(c uint) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<c) != 0
		}
	}
	return false
}
