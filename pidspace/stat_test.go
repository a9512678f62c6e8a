package pidspace

import (
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		in   string
		want procStat
		err  bool
	}{
		{in: "1001 (java) S 1 1001 1 0 -1 4194560 12 0 0 0\n",
			want: procStat{pid: 1001, comm: "java", state: "S", ppid: 1, pgrp: 1001, session: 1}},
		{in: "42 (a) b) (c) R 7 8 9 0",
			want: procStat{pid: 42, comm: "a) b) (c", state: "R", ppid: 7, pgrp: 8, session: 9}},
		{in: "5 () Z 1 5 5", want: procStat{pid: 5, comm: "", state: "Z", ppid: 1, pgrp: 5, session: 5}},
		{in: "", err: true},
		{in: "12 java S 1 2 3", err: true},
		{in: "x (java) S 1 2 3", err: true},
		{in: "12 (java) S 1 2", err: true},
		{in: "12 (java) S one 2 3", err: true},
		{in: "12 )java( S 1 2 3", err: true},
	}
	for _, tt := range tests {
		got, err := parseStat([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("parseStat(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("parseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1001 (java) S 1 1001 1 0 -1 4194560 12 0 0 0\n"))
	f.Add([]byte("42 (a) b) (c) R 7 8 9 0"))
	f.Add([]byte("12 )java( S 1 2 3"))
	f.Add([]byte("(("))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStat(data)
		if err != nil {
			return
		}
		// The name is exactly what lies between the first '(' and the last ')'.
		s := string(data)
		if want := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]; st.comm != want {
			t.Fatalf("comm %q, want %q", st.comm, want)
		}
		if st.state == "" || strings.ContainsAny(st.state, " \t\n") {
			t.Fatalf("state %q is not one field", st.state)
		}
	})
}

func TestParseTgid(t *testing.T) {
	status := "Name:\tC2 CompilerThre\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t995\nNgid:\t0\nPid:\t1001\n"
	if got, err := parseTgid([]byte(status)); err != nil || got != 995 {
		t.Errorf("parseTgid = %d, %v; want 995", got, err)
	}
	for _, bad := range []string{"", "Name:\tx\n", "Tgid:\tx\n", "Tgid:\n"} {
		if got, err := parseTgid([]byte(bad)); err == nil {
			t.Errorf("parseTgid(%q) = %d, want an error", bad, got)
		}
	}
}

func FuzzParseTgid(f *testing.F) {
	f.Add([]byte("Name:\tjava\nTgid:\t995\nPid:\t1001\n"))
	f.Add([]byte("Tgid:\t-1"))
	f.Add([]byte("Tgid:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tgid, err := parseTgid(data)
		if err == nil && !strings.Contains(string(data), "Tgid:") {
			t.Fatalf("tgid %d parsed from input without a Tgid line", tgid)
		}
	})
}

func TestCheckAbove(t *testing.T) {
	if err := CheckAbove(1001, 1000); err != nil {
		t.Errorf("CheckAbove(1001, 1000) = %v, want nil", err)
	}
	for _, pid := range []int{1000, 57} {
		err := CheckAbove(pid, 1000)
		if err == nil || !strings.Contains(err.Error(), "not above the minimum 1000") {
			t.Errorf("CheckAbove(%d, 1000) = %v, want an error naming the minimum", pid, err)
		}
	}
}
