//go:build linux

package attach

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestMainAgainstJVM(t *testing.T) {
	j := startJVM(t)
	pid := strconv.Itoa(j.pid)
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string
		stderrLine string
	}{
		{[]string{pid, "VM.version"}, 0, "OpenJDK", ""},
		{[]string{pid, "help"}, 0, "GC.run", ""},
		{[]string{pid, "help", "VM.version"}, 0, "Print JVM version information", ""},
		{[]string{pid, "No.such"}, 1, "", "java.lang.IllegalArgumentException: Unknown diagnostic command"},
		{[]string{"1073741824", "VM.version"}, 1, "", "stasis jcmd: no process with pid 1073741824"},
	} {
		var out, errOut bytes.Buffer
		code := Main(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) ||
			strings.TrimSpace(errOut.String()) != tc.stderrLine {
			t.Errorf("Main(%q) = %d, stdout %.200q, stderr %q; want %d, %q, %q",
				tc.args, code, out.String(), errOut.String(), tc.code, tc.stdout, tc.stderrLine)
		}
	}
}
