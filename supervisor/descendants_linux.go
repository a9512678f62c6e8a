package supervisor

import (
	"bytes"
	"os"
	"strconv"
)

// descendants lists the processes below stasis, read from /proc. It starts
// from /proc/self rather than os.Getpid(), so it stays right when /proc
// belongs to an outer PID namespace; anything unreadable counts as gone.
func descendants() []int {
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return nil
	}
	root, _ := strconv.Atoi(self)
	parent := map[int][]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := readPPID(pid); ok {
			parent[ppid] = append(parent[ppid], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range parent[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// readPPID parses field 4 of /proc/PID/stat; the command name in field 2
// may hold spaces and parentheses, so parsing starts after the last ')'.
func readPPID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseStatPPID(b)
}

func parseStatPPID(b []byte) (int, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}
