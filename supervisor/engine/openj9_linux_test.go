//go:build linux

package engine

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDumperSiteSwrk: libcriu's `criu swrk` inherits the JVM's descriptors
// (its image and work directories among them) and chdirs to the work
// directory; the image directory is the directory it holds open that is not
// its working directory, whatever the descriptors' numbers (fd 10 sorts
// before fd 9 by name).
func TestDumperSiteSwrk(t *testing.T) {
	img, work := t.TempDir(), t.TempDir()
	cmd := exec.Command("/bin/bash", "-c", `exec 9<"$1" 10<"$2"; cd "$2" && exec -a criu /bin/sh -c 'sleep 60; :' swrk`, "bash", img, work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(proc + "/cmdline")
		if strings.HasPrefix(string(b), "criu\x00") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in never ran as criu swrk: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, ok := dumperSite(proc)
	if !ok || s.imageDir != img || s.workDir != work {
		t.Fatalf("dumperSite = %+v, %v; want images %s, work %s", s, ok, img, work)
	}
}
