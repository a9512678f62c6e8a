//go:build linux && (amd64 || arm64)

package pidspace

// cloneExit calls clone(flags, newsp=0, ...) and, in the child, exit(0) at once; the parent gets
// the child's PID or an errno. It is assembly because the child of a CLONE_VM|CLONE_VFORK clone
// shares the parent's stack while the parent sits inside the syscall: a child returning through
// Go frames (unix.RawSyscall6) and then calling exit would overwrite the return addresses the
// parent returns through. Go's own forkAndExecInChild avoids this with the assembly
// rawVforkSyscall, which keeps its return address in a register; this child goes further and
// never leaves the function, touching no memory at all.
//
//go:noescape
func cloneExit(flags uintptr) (pid uintptr, errno uintptr)
