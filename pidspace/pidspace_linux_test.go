package pidspace

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperAdvance: Advance to arg with full privileges, then launch a child.
func helperAdvance(target int) result {
	before, err := LastPID()
	if err != nil {
		return result{"error": err.Error()}
	}
	method, err := Advance(target, quietLog())
	if err != nil {
		return result{"error": err.Error()}
	}
	child, err := spawnPID()
	if err != nil {
		return result{"error": err.Error()}
	}
	return result{"before": before, "method": string(method), "child": child}
}

func TestAdvanceWritesNsLastPID(t *testing.T) {
	r := runHelper(t, "advance", 1000, false)
	if before := num(t, r, "before"); before >= 1000 {
		t.Fatalf("fresh namespace already at pid %d: the test proves nothing", before)
	}
	if r["method"] != string(MethodWrite) {
		t.Errorf("method = %v, want %s", r["method"], MethodWrite)
	}
	if child := num(t, r, "child"); child <= 1000 {
		t.Errorf("next child got pid %d, want > 1000", child)
	}
}

// helperBurnDenied runs without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE: it first proves that
// writing ns_last_pid fails with EPERM, then advances by burning.
func helperBurnDenied(target int) result {
	eff, err := capEff()
	if err != nil {
		return result{"error": err.Error()}
	}
	if eff&(1<<unix.CAP_SYS_ADMIN|1<<unix.CAP_CHECKPOINT_RESTORE) != 0 {
		return result{"error": fmt.Sprintf("capabilities not dropped: CapEff %x", eff)}
	}
	werr := AdvanceByWriting(target)
	r := result{"write_eperm": errors.Is(werr, unix.EPERM), "write_err": fmt.Sprint(werr)}
	if r["before"], err = LastPID(); err != nil {
		return result{"error": err.Error()}
	}
	method, err := Advance(target, quietLog())
	if err != nil {
		return result{"error": err.Error()}
	}
	r["method"] = string(method)
	if r["child"], err = spawnPID(); err != nil {
		return result{"error": err.Error()}
	}
	// The direct call burns further, past PIDs that are still in use.
	hold := exec.Command("sleep", "30")
	if err := hold.Start(); err != nil {
		return result{"error": err.Error()}
	}
	defer hold.Process.Kill()
	if err := AdvanceByBurning(3 * target); err != nil {
		return result{"error": err.Error()}
	}
	if r["child2"], err = spawnPID(); err != nil {
		return result{"error": err.Error()}
	}
	return r
}

func TestAdvanceBurnsWhenWriteDenied(t *testing.T) {
	r := runHelper(t, "burn-denied", 1000, true)
	if r["write_eperm"] != true {
		t.Fatalf("writing ns_last_pid without capabilities gave %v, want EPERM: the test proves nothing",
			r["write_err"])
	}
	if before := num(t, r, "before"); before >= 1000 {
		t.Fatalf("fresh namespace already at pid %d: the test proves nothing", before)
	}
	if r["method"] != string(MethodBurn) {
		t.Errorf("method = %v, want %s", r["method"], MethodBurn)
	}
	if child := num(t, r, "child"); child <= 1000 {
		t.Errorf("next child got pid %d after burning to 1000, want > 1000", child)
	}
	if child := num(t, r, "child2"); child <= 3000 {
		t.Errorf("next child got pid %d after burning to 3000, want > 3000", child)
	}
}

// helperBeyondMax: targets at and past pid_max fail without moving the counter; the last
// reachable one works.
func helperBeyondMax(int) result {
	max, err := PIDMax()
	if err != nil {
		return result{"error": err.Error()}
	}
	r := result{"max": max}
	_, err = Advance(max, quietLog())
	r["advance_max"] = fmt.Sprint(err)
	_, err = Advance(max-1, quietLog())
	r["advance_max_1"] = fmt.Sprint(err)
	r["burn_max"] = fmt.Sprint(AdvanceByBurning(max))
	r["write_max"] = fmt.Sprint(AdvanceByWriting(max + 5))
	r["last_after_errors"], _ = LastPID()
	_, err = Advance(max-2, quietLog())
	r["advance_max_2"] = fmt.Sprint(err)
	return r
}

func TestAdvanceBeyondPIDMax(t *testing.T) {
	r := runHelper(t, "beyond-max", 0, false)
	for _, key := range []string{"advance_max", "advance_max_1", "burn_max", "write_max"} {
		if msg, _ := r[key].(string); !strings.Contains(msg, "pid_max") {
			t.Errorf("%s: error %q, want one naming pid_max", key, msg)
		}
	}
	if last := num(t, r, "last_after_errors"); last >= num(t, r, "max")-10 {
		t.Errorf("failed advances moved the counter to %d", last)
	}
	if r["advance_max_2"] != "<nil>" {
		t.Errorf("advance to pid_max-2: %v, want success", r["advance_max_2"])
	}
}

// helperAlreadyPast: with the counter at 5000, advancing to 1000 does nothing by either path.
func helperAlreadyPast(int) result {
	if err := AdvanceByWriting(5000); err != nil {
		return result{"error": err.Error()}
	}
	method, err := Advance(1000, quietLog())
	if err != nil {
		return result{"error": err.Error()}
	}
	if err := AdvanceByBurning(1000); err != nil {
		return result{"error": err.Error()}
	}
	last, err := LastPID()
	if err != nil {
		return result{"error": err.Error()}
	}
	return result{"method": string(method), "last": last}
}

func TestAdvanceAlreadyPast(t *testing.T) {
	r := runHelper(t, "already-past", 0, false)
	if r["method"] != "" {
		t.Errorf("method = %q, want \"\" (nothing to do)", r["method"])
	}
	// Go may start a runtime thread meanwhile; burning 1000 PIDs would show as a jump.
	if last := num(t, r, "last"); last < 5000 || last > 5010 {
		t.Errorf("counter at %d after no-op advances from 5000", last)
	}
}

// helperHolder reports on a live child, one of this process's threads, a PID kept as a process
// group by a member outliving its leader, and PIDs no one holds.
func helperHolder(int) result {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		return result{"error": err.Error()}
	}
	defer child.Process.Kill()
	r := result{"child": child.Process.Pid}
	_, r["child_who"], _ = Holder(child.Process.Pid)
	if tid := otherThread(); tid > 0 {
		_, r["thread_who"], _ = Holder(tid)
	}
	leader := exec.Command("sh", "-c", "sleep 30 </dev/null >/dev/null 2>&1 & exit 0")
	leader.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leader.Run(); err != nil {
		return result{"error": err.Error()}
	}
	defer syscall.Kill(-leader.Process.Pid, syscall.SIGKILL)
	_, r["group_who"], _ = Holder(leader.Process.Pid)
	r["free_20000"], r["free_who"], _ = Holder(20000)
	_, _, err := Holder(0)
	r["zero_err"] = fmt.Sprint(err)
	return r
}

// otherThread returns a thread ID of this process other than its PID (Go always has several).
func otherThread() int {
	for range 100 {
		entries, _ := os.ReadDir("/proc/self/task")
		for _, e := range entries {
			var tid int
			if _, err := fmt.Sscan(e.Name(), &tid); err == nil && tid != os.Getpid() {
				return tid
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0
}

func TestHolder(t *testing.T) {
	r := runHelper(t, "holder", 0, false)
	child := num(t, r, "child")
	// The state is S or R depending on how far sleep got.
	who, _ := r["child_who"].(string)
	if !strings.HasPrefix(who, fmt.Sprintf("pid %d is held by sleep (state ", child)) ||
		!strings.HasSuffix(who, ", parent 1)") {
		t.Errorf("live child: %q, want \"pid %d is held by sleep (state S, parent 1)\"", who, child)
	}
	if who, _ = r["thread_who"].(string); !strings.Contains(who, "held by thread") ||
		!strings.Contains(who, "(pid 1,") {
		t.Errorf("thread: %q, want a thread of pid 1", who)
	}
	// The member is sh's fork, named sh until it has exec'd sleep.
	if who, _ = r["group_who"].(string); !strings.Contains(who, "held as process group or session of s") {
		t.Errorf("orphaned process group: %q, want it held by the group's member", who)
	}
	if r["free_20000"] != true || r["free_who"] != "" {
		t.Errorf("pid 20000 in a fresh namespace: free=%v who=%q, want free", r["free_20000"], r["free_who"])
	}
	if r["zero_err"] == "<nil>" {
		t.Errorf("Holder(0) gave no error")
	}
}

// helperWrap shrinks this namespace's pid_max (per namespace since Linux 6.14) and fills the top
// PIDs with sleepers, so burning toward a target among them wraps to low PIDs instead of
// reaching it: AdvanceByBurning must say so rather than loop.
func helperWrap(int) result {
	if err := os.WriteFile(pidMaxFile, []byte("1100"), 0); err != nil {
		return result{"skip": fmt.Sprintf("cannot set a per-namespace pid_max: %v", err)}
	}
	if err := AdvanceByWriting(1089); err != nil {
		return result{"error": err.Error()}
	}
	var sleepers []*exec.Cmd
	defer func() {
		for _, s := range sleepers {
			s.Process.Kill()
			s.Wait()
		}
	}()
	for last := 0; last < 1099; {
		s := exec.Command("sleep", "30")
		if err := s.Start(); err != nil {
			return result{"error": err.Error()}
		}
		sleepers = append(sleepers, s)
		last = s.Process.Pid
	}
	if err := AdvanceByWriting(1000); err != nil {
		return result{"error": err.Error()}
	}
	start := time.Now()
	err := AdvanceByBurning(1095)
	return result{"burn_err": fmt.Sprint(err), "took_ms": time.Since(start).Milliseconds()}
}

func TestAdvanceByBurningStopsWhenCounterWraps(t *testing.T) {
	r := runHelper(t, "wrap", 0, false)
	if skip, ok := r["skip"]; ok {
		t.Skip(skip)
	}
	if msg, _ := r["burn_err"].(string); !strings.Contains(msg, "wrapped at pid_max 1100") {
		t.Errorf("burning toward taken pids: %q, want an error saying the counter wrapped", msg)
	}
}
