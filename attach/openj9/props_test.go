package openj9attach

import "testing"

// TestParseProperties: the Properties.store text OpenJ9 sends, with its
// escapes.
func TestParseProperties(t *testing.T) {
	text := "#\n#Tue Dec 01 14:00:00 UTC 2026\nopenj9_diagnostics.string_result=line one\\nline\\ttwo \\u00e9\\=\\:\\#\ncommand_string=help\nkey\\ with\\ blanks = v\ncont=a\\\n   b\n! comment\n"
	p := parseProperties(text)
	for k, want := range map[string]string{
		"openj9_diagnostics.string_result": "line one\nline\ttwo é=:#",
		"command_string":                   "help",
		"key with blanks":                  "v",
		"cont":                             "ab",
	} {
		if p[k] != want {
			t.Errorf("%q = %q, want %q", k, p[k], want)
		}
	}
	if len(p) != 4 {
		t.Errorf("%d properties: %q", len(p), p)
	}
}

func TestCommand(t *testing.T) {
	if got := Command("CRIU.checkpoint  imageDir=/x logLevel=4"); got != "CRIU.checkpoint,imageDir=/x,logLevel=4" {
		t.Errorf("Command = %q", got)
	}
}
