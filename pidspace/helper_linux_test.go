package pidspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// Tests that move ns_last_pid never touch the host's namespace: the test binary re-executes
// itself as PID 1 of a fresh PID and mount namespace, the helper named by helperEnv runs there
// and prints one JSON object, and the parent test checks it.
const (
	helperEnv = "PIDSPACE_TEST_HELPER"
	argEnv    = "PIDSPACE_TEST_ARG"
	dropEnv   = "PIDSPACE_TEST_DROP_CAPS"
)

// result is what a helper reports; each helper fills the fields it knows.
type result map[string]any

var helpers = map[string]func(arg int) result{
	"advance":        helperAdvance,
	"burn-denied":    helperBurnDenied,
	"beyond-max":     helperBeyondMax,
	"already-past":   helperAlreadyPast,
	"holder":         helperHolder,
	"wrap":           helperWrap,
	"bench-write":    func(n int) result { return helperBench(n, AdvanceByWriting) },
	"bench-burn":     func(n int) result { return helperBench(n, AdvanceByBurning) },
	"bench-forkexec": helperForkExec,
}

func TestMain(m *testing.M) {
	name := os.Getenv(helperEnv)
	if name == "" {
		os.Exit(m.Run())
	}
	arg, _ := strconv.Atoi(os.Getenv(argEnv))
	out := runInNamespace(name, arg)
	json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(0)
}

func runInNamespace(name string, arg int) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{"error": fmt.Sprint("panic: ", p)}
		}
	}()
	if os.Getpid() != 1 {
		return result{"error": fmt.Sprintf("helper is pid %d, not 1 of a fresh namespace", os.Getpid())}
	}
	switch os.Getenv(dropEnv) {
	case "1":
		if err := mountProc(); err != nil {
			return result{"error": err.Error()}
		}
		return result{"error": execWithoutCaps().Error()}
	case "":
		if err := mountProc(); err != nil {
			return result{"error": err.Error()}
		}
	}
	h, ok := helpers[name]
	if !ok {
		return result{"error": "no helper " + name}
	}
	return h(arg)
}

// mountProc gives the namespace its own /proc, without propagating anything to the host.
func mountProc() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	return nil
}

// execWithoutCaps drops CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE from the bounding set of this
// thread and re-executes the helper from it: root's new capabilities are capped by that set,
// so the new image (still PID 1, proc already mounted) cannot write ns_last_pid.
func execWithoutCaps() error {
	runtime.LockOSThread()
	for _, c := range []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_CHECKPOINT_RESTORE} {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, dropEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, dropEnv+"=done")
	return fmt.Errorf("exec helper: %w", syscall.Exec("/proc/self/exe", os.Args, env))
}

// runHelper runs helper name in a fresh PID and mount namespace and returns its report.
func runHelper(tb testing.TB, name string, arg int, dropCaps bool, env ...string) result {
	tb.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+name, argEnv+"="+strconv.Itoa(arg))
	cmd.Env = append(cmd.Env, env...)
	if dropCaps {
		cmd.Env = append(cmd.Env, dropEnv+"=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, unix.EPERM) {
			tb.Skipf("cannot create a PID namespace here (needs root or CAP_SYS_ADMIN): %v", err)
		}
		tb.Fatalf("helper %s: %v\nstderr: %s", name, err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		tb.Fatalf("helper %s printed %q: %v\nstderr: %s", name, stdout.String(), err, stderr.String())
	}
	if e, ok := r["error"]; ok {
		tb.Fatalf("helper %s failed: %v", name, e)
	}
	return r
}

func num(tb testing.TB, r result, key string) int {
	tb.Helper()
	f, ok := r[key].(float64)
	if !ok {
		tb.Fatalf("report %v has no number %q", r, key)
	}
	return int(f)
}

// spawnPID starts and waits for a short command, returning the PID it had: the next PID the
// namespace handed out after whatever ran before.
func spawnPID() (int, error) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("run true: %w", err)
	}
	return cmd.Process.Pid, nil
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// capEff reads this process's effective capability set.
func capEff() (uint64, error) {
	st, err := linux.ReadStatus(0)
	if err != nil {
		return 0, err
	}
	return st.Cap("CapEff")
}
