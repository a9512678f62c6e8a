package attach

import (
	"bytes"
	"strings"
	"testing"
)

func TestMainBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: stasis jcmd PID COMMAND"},
		{[]string{"abc", "VM.version"}, `stasis jcmd: PID "abc" is not a process id`},
		{[]string{"-3", "VM.version"}, `stasis jcmd: PID "-3" is not a process id`},
		{[]string{"42"}, "missing COMMAND after PID 42"},
		{[]string{"42", strings.Repeat("x", 1100)}, "the JVM accepts at most 1024"},
	} {
		var out, errOut bytes.Buffer
		code := Main(tc.args, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) || strings.Count(errOut.String(), "\n") != 1 || out.Len() != 0 {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 2 and one line with %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
}
