package engine

import "stasis/internal/linux"

// ReadHostFacts reads what this process may do from /proc: its effective
// capabilities and seccomp mode (/proc/self/status), the kernel's last
// capability and Yama's ptrace scope. They are the container's, which
// stasis passes on to the criu it starts and to the JVM.
func ReadHostFacts() HostFacts {
	f := HostFacts{Seccomp: -1, PtraceScope: -1}
	if n, err := linux.ReadInt("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		f.PtraceScope = n
	}
	f.CapLast, _ = linux.CapLast()
	st, err := linux.ReadStatus(0)
	if err != nil {
		f.Err = err
		return f
	}
	f.Seccomp = st.Seccomp
	f.CapEff, f.Err = st.Cap("CapEff")
	return f
}

// ProcCaps reads one capability set (CapPrm, CapEff…) of process pid.
func ProcCaps(pid int, set string) (uint64, error) {
	st, err := linux.ReadStatus(pid)
	if err != nil {
		return 0, err
	}
	return st.Cap(set)
}
