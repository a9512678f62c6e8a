package supervisor

import (
	"os"
	"strconv"

	"stasis/internal/linux"
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
		if st, err := linux.ReadStat(pid); err == nil {
			parent[st.PPID] = append(parent[st.PPID], pid)
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
