//go:build linux

package attach

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"stasis/internal/fakejdktest"
)

// TestAttachWithoutLibjvm: any process that completes HotSpot's handshake is
// attached to, whatever its maps say. A static JDK links the VM into
// bin/java (no libjvm.so mapped), and a JDK whose files were replaced maps
// "libjvm.so (deleted)". The double stands for both (testdata/fakejdk).
func TestAttachWithoutLibjvm(t *testing.T) {
	for _, tc := range []struct {
		name, flavour string
		deleteLib     bool
	}{
		{"static JDK", fakejdktest.CRaCStatic, false},
		{"deleted libjvm.so", fakejdktest.HotSpot, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := fakejdktest.Layout(t, tc.flavour)
			pid := startDouble(t, filepath.Join(home, "bin", "java"))
			if tc.deleteLib {
				if err := os.Remove(filepath.Join(home, "lib", "server", "libjvm.so")); err != nil {
					t.Fatal(err)
				}
			}
			maps, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
			if strings.Contains(string(maps), "libjvm.so\n") {
				t.Fatalf("the process maps libjvm.so:\n%s", maps)
			}
			out, err := JCmd(context.Background(), pid, "VM.version", Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("attach: %v", err)
			}
			wantVersion(t, out)
		})
	}
}

// startDouble starts the double and waits for its start-up line.
func startDouble(t *testing.T, java string) int {
	t.Helper()
	cmd := exec.Command(java, "-Dfake.port=0")
	cmd.Dir = t.TempDir()
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.Remove("/tmp/.java_pid" + strconv.Itoa(cmd.Process.Pid))
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "Started fake app") {
		t.Fatalf("the double did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return cmd.Process.Pid
}
