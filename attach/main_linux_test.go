//go:build linux

package attach

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestMainAgainstJVM(t *testing.T) {
	j := startJVM(t)
	pid := strconv.Itoa(j.pid)
	for _, tc := range []struct {
		args    []string
		stdout  string
		err     string // "" for none
		refusal bool   // the JVM's own answer
	}{
		{[]string{pid, "VM.version"}, "OpenJDK", "", false},
		{[]string{pid, "help"}, "GC.run", "", false},
		{[]string{pid, "help", "VM.version"}, "Print JVM version information", "", false},
		{[]string{pid, "No.such"}, "", "java.lang.IllegalArgumentException: Unknown diagnostic command", true},
		{[]string{"1073741824", "VM.version"}, "", "no process with pid 1073741824", false},
	} {
		var out bytes.Buffer
		err := Main(tc.args, &out)
		var refusal *Refusal
		msg := ""
		if err != nil {
			msg = strings.TrimSpace(err.Error())
		}
		if msg != tc.err || errors.As(err, &refusal) != tc.refusal || !strings.Contains(out.String(), tc.stdout) {
			t.Errorf("Main(%q) = %v, stdout %.200q; want %q (refusal %v), stdout %q",
				tc.args, err, out.String(), tc.err, tc.refusal, tc.stdout)
		}
	}
}
