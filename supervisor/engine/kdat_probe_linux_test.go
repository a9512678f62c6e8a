package engine

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every probe answers, and answers the same twice: the key must not
// change between the checkpoint's two computations around its probe.
func TestKdatSyscalls(t *testing.T) {
	a, b := kdatSyscalls(), kdatSyscalls()
	if a != b {
		t.Fatalf("two answers differ:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "\n"); n != len(kdatProbes) {
		t.Fatalf("%d lines for %d probes:\n%s", n, len(kdatProbes), a)
	}
	t.Logf("\n%s", a)
}

// The kerndat cache's key follows what a seccomp filter does to the probes, not that there
// is one: under a filter that turns none of them (as Docker's default
// profile with CAP_SYS_ADMIN) it is this process's, under one that answers
// clone3 with ENOSYS (Docker's default profile without it) it differs in
// that probe's line alone.
func TestKdatSyscallsUnderSeccomp(t *testing.T) {
	if nr := os.Getenv("STASIS_TEST_SECCOMP_NR"); nr != "" {
		n := map[string]uint32{"clone3": unix.SYS_CLONE3, "acct": unix.SYS_ACCT}[nr]
		if err := denyENOSYS(n); err != nil {
			os.Stdout.WriteString("filter: " + err.Error())
			os.Exit(1)
		}
		key, err := kdatKey(os.Getenv("STASIS_TEST_CRIU"))
		if err != nil {
			os.Stdout.WriteString("key: " + err.Error())
			os.Exit(1)
		}
		os.Stdout.WriteString(key)
		os.Exit(0)
	}
	_, criu, _ := kdatFixture(t)
	under := func(nr string) string {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestKdatSyscallsUnderSeccomp$")
		cmd.Env = append(os.Environ(), "STASIS_TEST_SECCOMP_NR="+nr, "STASIS_TEST_CRIU="+criu)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("under a filter on %s: %v: %s", nr, err, out)
		}
		return string(out)
	}
	here, _ := kdatKey(criu)
	if got := under("acct"); got != here {
		t.Errorf("a filter that turns no probe changes the answers:\n%s\nunconfined:\n%s", got, here)
	}
	got := under("clone3")
	var diff []string
	for i, l := range strings.Split(got, "\n") {
		if l != strings.Split(here, "\n")[i] {
			diff = append(diff, l)
		}
	}
	if len(diff) != 1 || diff[0] != "syscall kerndat_has_clone3_set_tid has_clone3_set_tid ENOSYS" {
		t.Errorf("under a filter answering clone3 with ENOSYS, the lines that differ: %q", diff)
	}
}

// denyENOSYS installs, on every thread, a seccomp filter answering system
// call nr with ENOSYS and allowing every other.
func denyENOSYS(nr uint32) error {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return e
	}
	return nil
}

// BenchmarkKdatSyscalls is what repeating CRIU's probes adds to a restore's
// key.
func BenchmarkKdatSyscalls(b *testing.B) {
	for i := 0; i < b.N; i++ {
		kdatSyscalls()
	}
}
