package engine

import (
	"fmt"
	"os"

	"stasis/internal/procstatus"
)

// ReadHostFacts reads what this process may do from /proc: its effective
// capabilities and seccomp mode (/proc/self/status), the kernel's last
// capability and Yama's ptrace scope. They are the container's, which
// stasis passes on to the criu it starts and to the JVM.
func ReadHostFacts() HostFacts {
	f := HostFacts{Seccomp: -1, PtraceScope: procstatus.ReadInt("/proc/sys/kernel/yama/ptrace_scope", -1),
		CapLast: procstatus.ReadInt("/proc/sys/kernel/cap_last_cap", 0)}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		f.Err = err
		return f
	}
	f.CapEff, f.Seccomp, f.Err = procstatus.Parse(b, "CapEff")
	return f
}

// ProcCaps reads one capability set (CapPrm, CapEff…) of process pid.
func ProcCaps(pid int, set string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	caps, _, err := procstatus.Parse(b, set)
	return caps, err
}
