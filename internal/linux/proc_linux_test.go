package linux

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestReaders reads this test process and a child of it through /proc.
func TestReaders(t *testing.T) {
	st, err := ReadStat(os.Getpid())
	if err != nil || st.PID != os.Getpid() || st.PPID != os.Getppid() || st.State != 'R' || st.StartTime == 0 {
		t.Errorf("ReadStat(self) = %+v, %v", st, err)
	}
	status, err := ReadStatus(0)
	if err != nil || status.Tgid != os.Getpid() || status.Uid[1] != os.Geteuid() {
		t.Errorf("ReadStatus(0) = %+v, %v", status, err)
	}
	if !Catches(os.Getpid(), int(syscall.SIGURG)) {
		t.Error("SIGURG (Go's preemption signal) not seen as caught by this process")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if c := Children(os.Getpid()); !slices.Contains(c, cmd.Process.Pid) {
		t.Errorf("Children(self) = %v, want %d among them", c, cmd.Process.Pid)
	}
	if Catches(cmd.Process.Pid, int(syscall.SIGUSR1)) {
		t.Error("sleep catches SIGUSR1")
	}
	maps, err := ReadMaps(os.Getpid())
	exe, _ := os.Executable()
	if err != nil || !slices.Contains(maps, exe) {
		t.Errorf("ReadMaps(self) = %d files, %v; want %s among them", len(maps), err, exe)
	}
	if n, err := CapLast(); err != nil || n < 30 {
		t.Errorf("CapLast = %d, %v", n, err)
	}
}

func TestGoneProcess(t *testing.T) {
	const none = 1 << 30 // above any pid_max
	if _, err := ReadStat(none); !os.IsNotExist(err) {
		t.Errorf("ReadStat of no process: %v, want not-exist", err)
	}
	if _, err := ReadStatus(none); !os.IsNotExist(err) {
		t.Errorf("ReadStatus of no process: %v, want not-exist", err)
	}
	if Catches(none, int(syscall.SIGURG)) || Children(none) != nil {
		t.Error("a process that does not exist catches a signal or has children")
	}
	if _, err := ReadInt("/proc/self/comm"); err == nil || !strings.Contains(err.Error(), "read /proc/self/comm") {
		t.Errorf("ReadInt of no number = %v, want an error naming the file", err)
	}
}
