package linux

import (
	"strings"
	"testing"
)

// A real line (Linux 6.1) with the fields after starttime cut short.
const javaStat = "1001 (java) S 1 1001 1 0 -1 4194560 12 0 0 0 5 3 0 0 20 0 19 0 4242 1 2 3\n"

func TestParseStat(t *testing.T) {
	tests := []struct {
		in   string
		want Stat
		err  bool
	}{
		{in: javaStat, want: Stat{PID: 1001, Comm: "java", State: 'S', PPID: 1, PGRP: 1001, Session: 1, StartTime: 4242}},
		// prctl(PR_SET_NAME) takes any bytes: the name ends at the last ')'.
		{in: "42 (a) (b) R) R 7 8 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99",
			want: Stat{PID: 42, Comm: "a) (b) R", State: 'R', PPID: 7, PGRP: 8, Session: 9, StartTime: 99}},
		{in: "5 () Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7", want: Stat{PID: 5, State: 'Z', PPID: 1, PGRP: 5, Session: 5, StartTime: 7}},
		{in: "", err: true},
		{in: "12 java S 1 2 3", err: true},
		{in: "x (java) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7", err: true},
		{in: "12 (java) S 1 2 3", err: true}, // short: no starttime
		{in: "12 (java) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", err: true},
		{in: "12 (java) S one 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7", err: true},
		{in: "12 (java) SS 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7", err: true},
		{in: "12 (java) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -7", err: true},
		{in: "12 )java( S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7", err: true},
	}
	for _, tt := range tests {
		got, err := ParseStat([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("ParseStat(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if st, _ := ParseStat([]byte(javaStat)); st.Gone() {
		t.Error("a sleeping process is gone")
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(javaStat))
	f.Add([]byte("42 (a) (b) R) R 7 8 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99"))
	f.Add([]byte("12 )java( S 1 2 3"))
	f.Add([]byte("(("))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStat(data)
		if err != nil {
			return
		}
		// The name is exactly what lies between the first '(' and the last ')'.
		s := string(data)
		if want := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]; st.Comm != want {
			t.Fatalf("comm %q, want %q", st.Comm, want)
		}
		if st.State == 0 || strings.ContainsRune(" \t\n\v\f\r", rune(st.State)) {
			t.Fatalf("state %q is not one field", st.State)
		}
	})
}

const javaStatus = "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\n" +
	"NSpid:\t4242\t2\nUid:\t1000\t1001\t1001\t1001\nGid:\t2000\t2002\t2002\t2002\nGroups:\t\n" +
	"SigQ:\t0/62811\nSigPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000002\n" +
	"SigCgt:\t0000000101005ccd\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n" +
	"CapEff:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n" +
	"NoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n"

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus([]byte(javaStatus))
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "java" || st.State != 'S' || st.Tgid != 4242 || st.NSpid != 2 || st.Uid != [4]int{1000, 1001, 1001, 1001} ||
		st.Gid[1] != 2002 || st.SigIgn != 2 || st.CapEff != 0xa80425fb || st.Seccomp != 2 {
		t.Errorf("ParseStatus = %+v", st)
	}
	if !st.Catches(3) || st.Catches(2) || st.Catches(0) || st.Catches(65) {
		t.Error("Catches: want SIGQUIT caught, SIGINT (ignored) and nonsense not")
	}
	for set, want := range map[string]uint64{"CapPrm": 0x1ffffffffff, "CapEff": 0xa80425fb, "CapAmb": 0} {
		if got, err := st.Cap(set); err != nil || got != want {
			t.Errorf("Cap(%s) = %x, %v; want %x", set, got, err, want)
		}
	}
	bare, err := ParseStatus([]byte("Name:\tx\n"))
	if err != nil || bare.Seccomp != -1 || bare.Uid[1] != -1 || bare.NSpid != 0 {
		t.Errorf("status without the lines: %+v, %v", bare, err)
	}
	if _, err := bare.Cap("CapEff"); err == nil || !strings.Contains(err.Error(), "no CapEff line") {
		t.Errorf("no CapEff line: %v", err)
	}
	for _, bad := range []string{"CapEff:\tzz\n", "Seccomp:\t7\n", "Uid:\t0\t0\n", "NSpid:\t\n", "SigCgt:\t1 2\n", "State:\t\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(javaStatus))
	f.Add([]byte("Uid:\t0\t0\nGid:\t0\t0\nNSpid:\t1\n"))
	f.Add([]byte("NSpid:\t\nUid:\nSigCgt:\tzz\nSeccomp:\t3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStatus(data)
		if err != nil {
			return
		}
		if st.Seccomp < -1 || st.Seccomp > 2 {
			t.Fatalf("seccomp %d accepted", st.Seccomp)
		}
		if _, err := st.Cap("CapEff"); err == nil && !strings.Contains(string(data), "CapEff:") {
			t.Fatalf("CapEff from input without a CapEff line")
		}
	})
}

func TestMappedFiles(t *testing.T) {
	maps := "55d0-55d1 r--p 00000000 08:01 1311 /usr/bin/java\n" +
		"7f00-7f01 r-xp 00001000 08:01 42   /usr/lib/jvm/lib/server/libjvm.so\n" +
		"7f02-7f03 rw-p 00000000 00:00 0 \n" +
		"7f04-7f05 r--s 00000000 00:2f 77                         /tmp/hsperfdata_root/1001 (deleted)\n" +
		"7f06-7f07 r--p 00000000 08:01 9 /opt/my app/lib.so\n" +
		"7ffd-7ffe rw-p 00000000 00:00 0                          [stack]"
	want := []string{"/usr/bin/java", "/usr/lib/jvm/lib/server/libjvm.so", "/tmp/hsperfdata_root/1001 (deleted)", "/opt/my app/lib.so"}
	if got := MappedFiles([]byte(maps)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("MappedFiles = %q, want %q", got, want)
	}
}

func FuzzMappedFiles(f *testing.F) {
	f.Add([]byte("7f00-7f01 r-xp 00001000 08:01 42   /usr/lib/libjvm.so\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range MappedFiles(data) {
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "\n") || !strings.Contains(string(data), p) {
				t.Fatalf("path %q from %q", p, data)
			}
		}
	})
}
