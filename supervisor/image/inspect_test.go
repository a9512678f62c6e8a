package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checks themselves are supervisor's (CheckRestorable, tested there):
// these test the report that shows them.

func TestReportText(t *testing.T) {
	dir, m := writeImage(t)
	ok := []Check{{Name: "manifest", OK: true, Detail: "format 1"}, {Name: "criu binary", OK: true, Detail: "/usr/bin/criu"}}
	r := NewReport(dir, m, nil, ok)
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"engine:", "criu", "command:", "java Main", "ok  criu binary", "restorable here: yes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	r.Plan = "restore (an image is in /checkpoint)"
	out.Reset()
	r.WriteText(&out)
	if !strings.Contains(out.String(), "a start here: restore (an image is in /checkpoint)") {
		t.Errorf("text lacks the plan:\n%s", out.String())
	}
	bad := append(ok, Check{Name: "files", Detail: "image file pages-1.img has 10 bytes", Err: errors.New("x")})
	r = NewReport(dir, m, nil, bad)
	out.Reset()
	r.WriteText(&out)
	if r.Restorable || !strings.Contains(out.String(), "FAIL  files") || !strings.Contains(out.String(), "restorable here: no") {
		t.Fatalf("a failed check does not say so:\n%s", out.String())
	}
	if NewReport(dir, m, nil, nil).Restorable {
		t.Fatal("no checks at all is no verdict of restorable")
	}
}

func TestReportNoImage(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(dir)
	if r := NewReport(dir, nil, err, []Check{{Name: "manifest", Detail: err.Error()}}); r.Restorable || !r.NoImage() || r.Manifest != nil {
		t.Fatalf("empty directory: %+v", r)
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte("{"), 0o644)
	_, err = Read(dir)
	if r := NewReport(dir, nil, err, []Check{{Name: "manifest", Detail: err.Error()}}); r.Restorable || r.NoImage() {
		t.Fatalf("a broken manifest is not the absence of one: %+v", r)
	}
}

func TestReportJSONNames(t *testing.T) {
	dir, m := writeImage(t)
	b, err := json.Marshal(NewReport(dir, m, nil, []Check{{Name: "files", Err: errors.New("not in JSON")}}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	for _, k := range []string{"dir", "manifest", "restorable", "checks"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if strings.Contains(string(b), "not in JSON") {
		t.Errorf("a check's error is its detail, not a JSON field: %s", b)
	}
}
