package attach

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMainBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: stasis jcmd PID COMMAND"},
		{[]string{"abc", "VM.version"}, `PID "abc" is not a process id`},
		{[]string{"-3", "VM.version"}, `PID "-3" is not a process id`},
		{[]string{"42"}, "missing COMMAND after PID 42"},
		{[]string{"42", strings.Repeat("x", 1100)}, "the JVM accepts at most 1024"},
	} {
		var out bytes.Buffer
		err := Main(tc.args, &out)
		var usage *UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || out.Len() != 0 {
			t.Errorf("Main(%q) = %v, stdout %q; want a *UsageError, one line with %q", tc.args, err, out.String(), tc.want)
		}
	}
}
