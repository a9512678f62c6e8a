package attach

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestEncodeRequest(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"jcmd", []string{"VM.version"}, "1\x00jcmd\x00VM.version\x00\x00\x00"},
		{"properties", nil, "1\x00properties\x00\x00\x00\x00"},
		{"threaddump", []string{"a", "b", "c"}, "1\x00threaddump\x00a\x00b\x00c\x00"},
	} {
		got, err := encodeRequest(tc.cmd, tc.args)
		if err != nil || string(got) != tc.want {
			t.Errorf("encodeRequest(%q, %q) = %q, %v; want %q", tc.cmd, tc.args, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		cmd  string
		args []string
	}{
		{"", nil},
		{"a_name_longer_than_16", nil},
		{"jcmd", []string{"1", "2", "3", "4"}},
		{"jcmd", []string{strings.Repeat("x", maxArgLen+1)}},
		{"jcmd", []string{"a\x00b"}},
	} {
		if _, err := encodeRequest(tc.cmd, tc.args); err == nil {
			t.Errorf("encodeRequest(%q, %d args) accepted a request HotSpot would drop", tc.cmd, len(tc.args))
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int
		body   string
		ok     bool
	}{
		{"0\nOpenJDK 64-Bit Server VM\n", 0, "OpenJDK 64-Bit Server VM\n", true},
		{"-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n", -1, "java.lang.IllegalArgumentException: Unknown diagnostic command\n", true},
		{"101\n", 101, "", true},
		{"0", 0, "", true},
		{"", 0, "", false},
		{"abc\n", 0, "", false},
		{"99999999999\n", 0, "", false},
	} {
		status, body, err := parseReply([]byte(tc.in))
		if (err == nil) != tc.ok || status != tc.status || body != tc.body {
			t.Errorf("parseReply(%q) = %d, %q, %v", tc.in, status, body, err)
		}
	}
}

func TestReplyError(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string // "" for no error
	}{
		{0, "OpenJDK 64-Bit Server VM version 17\n", ""},
		{0, "", ""},
		{-1, "java.lang.IllegalArgumentException: Unknown diagnostic command\n", "java.lang.IllegalArgumentException: Unknown diagnostic command"},
		{0, "jdk.internal.crac.mirror.CheckpointException\n\tSuppressed: x\n", "jdk.internal.crac.mirror.CheckpointException\n\tSuppressed: x"},
		{0, "Thread dump\njava.lang.Thread.State: RUNNABLE\n", ""},
		{-1, "", "command failed in target VM (status -1)"},
		{101, "", "protocol mismatch with target VM (status 101)"},
	} {
		err := replyError(tc.status, tc.body)
		got := ""
		if err != nil {
			got = err.Error()
			if !IsJVMError(err) {
				t.Errorf("replyError(%d, %q) is not a JVM error", tc.status, tc.body)
			}
		}
		if got != tc.want {
			t.Errorf("replyError(%d, %q) = %q, want %q", tc.status, tc.body, got, tc.want)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"0\nOpenJDK\n", "-1\njava.lang.IllegalArgumentException: x\n", "101\n", "0", "", "\n", "x\ny", "+5\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		status, body, err := parseReply(in)
		if err != nil {
			return
		}
		// What parses must be a status line followed by the body.
		again, body2, err := parseReply([]byte(fmt.Sprintf("%d\n%s", status, body)))
		if err != nil || again != status || body2 != body {
			t.Fatalf("round trip of %q: %d %q %v", in, again, body2, err)
		}
		if !bytes.HasSuffix(in, []byte(body)) {
			t.Fatalf("body %q is not the tail of %q", body, in)
		}
		_ = replyError(status, body)
	})
}

func FuzzEncodeRequest(f *testing.F) {
	f.Add("jcmd", "VM.version", "", "")
	f.Add("threaddump", "a", "b", "c")
	f.Add("", "\x00", "", "")
	f.Fuzz(func(t *testing.T, cmd, a, b, c string) {
		req, err := encodeRequest(cmd, []string{a, b, c})
		if err != nil {
			return
		}
		// HotSpot reads exactly five NUL-terminated strings.
		parts := strings.Split(string(req), "\x00")
		if len(parts) != 6 || parts[5] != "" || parts[0] != "1" || parts[1] != cmd || parts[2] != a || parts[3] != b || parts[4] != c {
			t.Fatalf("encodeRequest(%q, %q, %q, %q) = %q", cmd, a, b, c, req)
		}
	})
}
