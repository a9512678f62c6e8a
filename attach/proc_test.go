package attach

import (
	"strings"
	"testing"
)

const sampleStatus = "Name:\tjava\nState:\tS (sleeping)\nPid:\t4242\nNSpid:\t4242\t2\nUid:\t1000\t1001\t1001\t1001\nGid:\t2000\t2002\t2002\t2002\nSigIgn:\t0000000000000002\nSigCgt:\t0000000101005ccd\n"

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte(sampleStatus), 4242)
	if err != nil {
		t.Fatal(err)
	}
	if st.nspid != 2 || st.euid != 1001 || st.egid != 2002 || st.state != 'S' || !st.catchesQuit {
		t.Errorf("parseStatus = %+v", st)
	}
	noNS := strings.Replace(sampleStatus, "NSpid:\t4242\t2\n", "", 1)
	if st, err := parseStatus([]byte(noNS), 4242); err != nil || st.nspid != 4242 {
		t.Errorf("without NSpid: %+v, %v; want the pid itself", st, err)
	}
	xrs := strings.Replace(sampleStatus, "5ccd", "5cc9", 1)
	if st, _ := parseStatus([]byte(xrs), 4242); st.catchesQuit {
		t.Error("SIGQUIT not in SigCgt, but catchesQuit is true")
	}
	if _, err := parseStatus([]byte("Name:\tx\n"), 1); err == nil {
		t.Error("status without Uid accepted")
	}
}

func TestClassifyMaps(t *testing.T) {
	hs := "7f00-7f01 r-xp 0 08:01 1 /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n"
	j9 := "7f00-7f01 r-xp 0 08:01 1 /opt/java/openjdk/lib/default/libj9vm29.so\n" + hs
	if classifyMaps([]byte(hs)) != hotSpot || classifyMaps([]byte(j9)) != openJ9 ||
		classifyMaps([]byte("55-56 r-xp 0 08:01 1 /usr/bin/sleep\n")) != notJVM ||
		classifyMaps([]byte("55-56 r-xp 0 08:01 1 /x/libjvm.so.bak\n")) != notJVM {
		t.Error("classifyMaps misclassified a sample")
	}
}

func TestAttachDisabledFlag(t *testing.T) {
	for _, tc := range []struct {
		cmdline, tool, java string
		want                bool
	}{
		{"java\x00-XX:+DisableAttachMechanism\x00-jar\x00app.jar\x00", "", "", true},
		{"java\x00-jar\x00app.jar\x00", "", "", false},
		{"java\x00-jar\x00app.jar\x00", "-XX:+DisableAttachMechanism", "", true},
		{"java\x00-XX:-DisableAttachMechanism\x00", "-XX:+DisableAttachMechanism", "", false},
		{"java\x00-XX:+DisableAttachMechanism\x00", "", "-XX:-DisableAttachMechanism", false},
		{"java\x00-jar\x00app.jar\x00-XX:+DisableAttachMechanismX\x00", "", "", false},
	} {
		if got := attachDisabled([]byte(tc.cmdline), tc.tool, tc.java); got != tc.want {
			t.Errorf("attachDisabled(%q, %q, %q) = %v", tc.cmdline, tc.tool, tc.java, got)
		}
	}
	env := []byte("PATH=/bin\x00JAVA_TOOL_OPTIONS=-Xmx1g\x00")
	if environValue(env, "JAVA_TOOL_OPTIONS") != "-Xmx1g" || environValue(env, "HOME") != "" {
		t.Error("environValue")
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(sampleStatus), 4242)
	f.Add([]byte("Uid:\t0\t0\nGid:\t0\t0\nNSpid:\t1\n"), 1)
	f.Add([]byte("NSpid:\t\nUid:\nSigCgt:\tzz\n"), 7)
	f.Fuzz(func(t *testing.T, data []byte, pid int) {
		st, err := parseStatus(data, pid)
		if err == nil && (st.nspid <= 0 || st.euid < 0 || st.egid < 0) {
			t.Fatalf("accepted %+v from %q", st, data)
		}
	})
}

func FuzzClassifyMaps(f *testing.F) {
	f.Add([]byte("7f00-7f01 r-xp 0 08:01 1 /lib/server/libjvm.so\n"))
	f.Add([]byte("/libj9vm29.so\n/libjvm.so"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k := classifyMaps(data)
		if k == openJ9 && !strings.Contains(string(data), "/libj9vm") {
			t.Fatalf("OpenJ9 without libj9vm in %q", data)
		}
	})
}
