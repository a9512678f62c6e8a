package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"stasis/internal/linux"
)

// Facts are what the doctor found out about this environment. Empty
// strings in the *Writable and *Err fields mean no problem.
type Facts struct {
	CapEff           uint64
	CapLast          int // /proc/sys/kernel/cap_last_cap: 40 and up have CHECKPOINT_RESTORE
	CapErr           string
	Seccomp          int // 0 disabled, 1 strict, 2 filter, -1 unknown
	PtraceScope      int // -1 when there is no Yama
	NsLastPID        bool
	PIDMax           int
	PID1             string // what PID 1 is ("" when this process is PID 1)
	IsStasisPID1     bool
	ShmWritable      string
	ImageDirWritable string
	FreeBytes        int64 // at the image directory, or its nearest existing parent; -1 unknown
	FreeErr          string
	CRIUVersion      string
	CRIUCheck        string // the last line of `criu check` (or why it did not run)
	CRIUCheckOK      bool
}

// Gather finds out the facts about this environment that cfg's checks
// need. It only reads, except for a temporary file in the image directory
// and in /dev/shm, removed at once.
func Gather(ctx context.Context, cfg Config) Facts {
	f := Facts{Seccomp: -1, PtraceScope: -1, FreeBytes: -1}
	if st, err := linux.ReadStatus(0); err != nil {
		f.CapErr = err.Error()
	} else if f.CapEff, err = st.Cap("CapEff"); err != nil {
		f.CapErr = err.Error()
	} else {
		f.Seccomp = st.Seccomp
	}
	f.CapLast, _ = linux.CapLast()
	if n, err := linux.ReadInt("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		f.PtraceScope = n
	}
	_, err := os.Stat("/proc/sys/kernel/ns_last_pid")
	f.NsLastPID = err == nil
	f.PIDMax, _ = linux.ReadInt("/proc/sys/kernel/pid_max")
	f.PID1, f.IsStasisPID1 = pid1()
	f.ShmWritable = writable("/dev/shm")
	f.ImageDirWritable = writable(cfg.ImageDir)
	f.FreeBytes, f.FreeErr = freeBytes(cfg.ImageDir)
	if cfg.CRIU != "" {
		f.CRIUVersion, f.CRIUCheck, f.CRIUCheckOK = criuFacts(ctx, cfg.CRIU)
	}
	return f
}

// pid1 says what PID 1 is, and whether it is stasis: this very program (the
// doctor run as the container's command) or the same executable.
func pid1() (string, bool) {
	if os.Getpid() == 1 {
		return "", true
	}
	comm, _ := os.ReadFile("/proc/1/comm")
	name := strings.TrimSpace(string(comm))
	exe, err1 := os.Readlink("/proc/1/exe")
	self, err2 := os.Executable()
	if err1 == nil && err2 == nil && exe == self {
		return name, true
	}
	if name == "" {
		name = "unknown (cannot read /proc/1/comm)"
	}
	return name, name == "stasis"
}

// existing is dir or its nearest existing parent: a checkpoint creates the
// image directory, so the parent is where it will be written.
func existing(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}

// writable tries what a checkpoint does: create a file there. Root ignores
// modes, so only a real write tells (a read-only mount, a full disk).
func writable(dir string) string {
	at := existing(dir)
	f, err := os.CreateTemp(at, ".stasis-doctor-*")
	if err != nil {
		if at != dir {
			return fmt.Sprintf("%s does not exist and cannot be created in %s: %v", dir, at, err)
		}
		return fmt.Sprintf("%s is not writable: %v", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return ""
}

// criuFacts runs `criu --version` and `criu check`, each bounded: a doctor
// must answer even when criu hangs.
func criuFacts(ctx context.Context, criu string) (version, check string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, criu, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Sprintf("%s --version: %v", criu, err), false
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, found := strings.CutPrefix(l, "Version:"); found {
			version = strings.TrimSpace(v)
		}
	}
	if version == "" {
		version = strings.TrimSpace(string(out))
	}
	out, err = exec.CommandContext(ctx, criu, "check").CombinedOutput()
	check = lastLine(string(out))
	if err != nil {
		if check == "" {
			check = err.Error()
		}
		return version, fmt.Sprintf("criu check: %s (%v)", check, err), false
	}
	return version, check, true
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
