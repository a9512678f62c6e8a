package linux

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadStat reads /proc/PID/stat. A process that is gone answers an error
// wrapping fs.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(procFile(pid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return st, fmt.Errorf("%s: %w", procFile(pid, "stat"), err)
	}
	return st, nil
}

// ReadStatus reads /proc/PID/status; pid 0 means this process
// (/proc/self, right whichever PID namespace /proc belongs to).
func ReadStatus(pid int) (Status, error) {
	b, err := os.ReadFile(procFile(pid, "status"))
	if err != nil {
		return Status{}, err
	}
	st, err := ParseStatus(b)
	if err != nil {
		return st, fmt.Errorf("%s: %w", procFile(pid, "status"), err)
	}
	return st, nil
}

// Catches reports whether process pid has a handler for signal sig; false
// when it is gone.
func Catches(pid, sig int) bool {
	st, err := ReadStatus(pid)
	return err == nil && st.Catches(sig)
}

// Children lists the children of every thread of pid: /proc's children
// file is per thread, and a multithreaded process may fork from any
// (CONFIG_PROC_CHILDREN, which CRIU needs too). Nil when pid is gone.
func Children(pid int) []int {
	tasks, _ := filepath.Glob(procFile(pid, "task/*/children"))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// ReadMaps reads the file mappings of pid (see MappedFiles).
func ReadMaps(pid int) ([]string, error) {
	b, err := os.ReadFile(procFile(pid, "maps"))
	if err != nil {
		return nil, err
	}
	return MappedFiles(b), nil
}

// ReadInt reads the number in a file such as /proc/sys/kernel/pid_max.
func ReadInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}

// CapLast is /proc/sys/kernel/cap_last_cap, the highest capability the
// kernel knows: 40 (CHECKPOINT_RESTORE) from Linux 5.9.
func CapLast() (int, error) { return ReadInt("/proc/sys/kernel/cap_last_cap") }

func procFile(pid int, name string) string {
	if pid == 0 {
		return "/proc/self/" + name
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}
