package triggers

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"http//x", `"http//x": unknown condition`},
		{"tcp://nohostport", `"tcp://nohostport": missing port`},
		{"delay:-1s", `"delay:-1s": negative duration`},
		{"delay:10", `"delay:10": time: missing unit`},
		{"delay:", `"delay:": time: invalid duration`},
		{"log:(", `"log:(": error parsing regexp: missing closing )`},
		{"log:", `"log:": empty regex`},
		{"manual,,tcp://h:1", `"": empty item`},
		{"manual,", `"": empty item`},
		{",manual", `"": empty item`},
		{" , ", `"": empty item`},
		{"ftp://h/", `"ftp://h/": unknown condition`},
		{"Manual", `"Manual": unknown condition`},
		{"manualx", `"manualx": unknown condition`},
		{"app,manual", `"app,manual": app must stand alone`},
		{"tcp://h:1,app", `app must stand alone`},
		{"manual,manual", `"manual": duplicate item`},
		{"http://:80/x", `"http://:80/x": missing host`},
		{"http://h:0/x", `bad port`},
		{"tcp://h:1/x", `unexpected path`},
		{"file:", `"file:": missing path`},
		{"log:ok,tcp://x", `"tcp://x": missing port`},
		{"log:x,https://:1/", `"https://:1/": missing host`},
	} {
		_, err := ParseSpec(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSpec(%q) = %v, want error containing %q", tc.spec, err, tc.want)
			continue
		}
		// One line, naming the item; the caller names the setting, once.
		if !strings.HasPrefix(err.Error(), `"`) || strings.Contains(err.Error(), "STASIS_") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSpec(%q) error is not one line starting with the item: %q", tc.spec, err)
		}
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		kinds []Kind
		raws  []string
	}{
		{"http://127.0.0.1:8080/health", []Kind{KindHTTP}, []string{"http://127.0.0.1:8080/health"}},
		{"tcp://127.0.0.1:5432, manual", []Kind{KindTCP, KindManual}, []string{"tcp://127.0.0.1:5432", "manual"}},
		{"file:/tmp/ready,delay:2s", []Kind{KindFile, KindDelay}, nil},
		{"delay:0s", []Kind{KindDelay}, nil},
		{"app", []Kind{KindApp}, nil},
		// Commas inside a regex stay in it until a comma starts another item.
		{"log:a{1,3} started,tcp://h:1", []Kind{KindLog, KindTCP}, []string{"log:a{1,3} started", "tcp://h:1"}},
		{"log:x,y,z", []Kind{KindLog}, []string{"log:x,y,z"}},
		{"log:x, manual", []Kind{KindLog, KindManual}, []string{"log:x", "manual"}},
		{"log:x,manually", []Kind{KindLog}, []string{"log:x,manually"}},
		{"log:x,app store", []Kind{KindLog}, []string{"log:x,app store"}},
		{"log:a,log:b", []Kind{KindLog, KindLog}, []string{"log:a", "log:b"}},
		{"log:a[,]log:b", []Kind{KindLog}, []string{"log:a[,]log:b"}},
		{"manual,log:Started .* in [0-9.]+ seconds,http://h:8080/", []Kind{KindManual, KindLog, KindHTTP},
			[]string{"manual", "log:Started .* in [0-9.]+ seconds", "http://h:8080/"}},
	} {
		s, err := ParseSpec(tc.spec)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.spec, err)
			continue
		}
		if len(s.Conditions) != len(tc.kinds) {
			t.Errorf("ParseSpec(%q) = %d conditions %v, want %d", tc.spec, len(s.Conditions), s, len(tc.kinds))
			continue
		}
		for i, c := range s.Conditions {
			if c.Kind != tc.kinds[i] {
				t.Errorf("ParseSpec(%q)[%d].Kind = %v, want %v", tc.spec, i, c.Kind, tc.kinds[i])
			}
			if tc.raws != nil && c.Raw != tc.raws[i] {
				t.Errorf("ParseSpec(%q)[%d].Raw = %q, want %q", tc.spec, i, c.Raw, tc.raws[i])
			}
		}
	}
}

func TestSpecAccessors(t *testing.T) {
	s, err := ParseSpec("log:up,manual,tcp://h:1,http://h:2/x")
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsManual() || s.IsApp() || s.Empty() {
		t.Errorf("IsManual, IsApp, Empty = %v %v %v", s.IsManual(), s.IsApp(), s.Empty())
	}
	if p := s.HTTPProbe(); p == nil || p.String() != "tcp://h:1" {
		t.Errorf("HTTPProbe() = %v, want the first http/tcp probe tcp://h:1", p)
	}
	if s.String() != "log:up,manual,tcp://h:1,http://h:2/x" {
		t.Errorf("String() = %q", s.String())
	}
	d, _ := ParseSpec("delay:1m30s")
	if d.Conditions[0].Delay != 90*time.Second || d.HTTPProbe() != nil {
		t.Errorf("delay spec = %+v", d)
	}
	e, err := ParseSpec("  ")
	if err != nil || !e.Empty() {
		t.Errorf(`ParseSpec("  ") = %v, %v; want an empty spec`, e, err)
	}
	a, _ := ParseSpec("app")
	if !a.IsApp() {
		t.Error("app spec: IsApp() = false")
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/health", "tcp://h:1,manual", "log:a{1,3},tcp://h:1",
		"log:x,,y", "file:/x,delay:1s", "app", "app,manual", "http//x", "delay:-1s", "log:(", ",", "log:a,log:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), `"`) {
				t.Fatalf("error does not start with the item: %q", err)
			}
			if strings.Contains(err.Error(), "\n") && !strings.Contains(in, "\n") {
				t.Fatalf("multi-line error for %q: %q", in, err)
			}
			return
		}
		if s.IsApp() && len(s.Conditions) != 1 {
			t.Fatalf("app combined with others accepted: %q", in)
		}
		for _, c := range s.Conditions {
			if c.Raw == "" || (c.Kind == KindLog && c.Regex == nil) || (c.Kind == KindDelay && c.Delay < 0) {
				t.Fatalf("bad condition %+v from %q", c, in)
			}
			if (c.Kind == KindHTTP || c.Kind == KindTCP || c.Kind == KindFile) && c.Probe == nil {
				t.Fatalf("probe condition without probe %+v from %q", c, in)
			}
		}
		// What parsed must parse again to the same conditions.
		again, err := ParseSpec(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("round trip of %q: %q, %v", s.String(), again.String(), err)
		}
	})
}

func TestParseURLs(t *testing.T) {
	got, err := ParseURLs("http://127.0.0.1:8080/a, http://127.0.0.1:8080/b http://h/c")
	if err != nil || len(got) != 3 || got[1] != "http://127.0.0.1:8080/b" {
		t.Fatalf("ParseURLs = %q, %v", got, err)
	}
	if got, err := ParseURLs(" "); err != nil || got != nil {
		t.Errorf(`ParseURLs(" ") = %q, %v; want none`, got, err)
	}
	for _, tc := range []struct{ in, want string }{
		{",", "no URL"},
		{"http://h/a,tcp://h:1", `"tcp://h:1": scheme must be http`},
		{"http://h/a ftp://h/c", `"ftp://h/c": scheme must be http or https`},
		{"127.0.0.1:8080/x", `"127.0.0.1:8080/x"`},
		{"http:///x", "missing host"},
		{"http://h:99999/", "bad port"},
	} {
		_, err := ParseURLs(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURLs(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseURLs(f *testing.F) {
	for _, s := range []string{"http://h/a", "http://h/a,https://h:8443/b", "a b", "http://[::1]:1/", ",", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		urls, err := ParseURLs(in)
		if err != nil {
			// One line; the caller names the setting (cmd/stasis: STASIS_WARMUP_URL="…": …).
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\n") || strings.Contains(msg, "STASIS_WARMUP_URL") {
				t.Fatalf("error is not one line for the caller to name: %q", msg)
			}
			return
		}
		for _, u := range urls {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("accepted %q from %q", u, in)
			}
			if _, _, err := newLoad(WarmupConfig{URLs: []string{u}}); err != nil {
				t.Fatalf("accepted URL %q does not load: %v", u, err)
			}
		}
	})
}
