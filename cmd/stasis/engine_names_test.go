package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"stasis/supervisor/engine"
)

// Engines own their names (issue 14): this package takes them from
// supervisor/engine and never spells one. "criu" is also the tool's name,
// so it is caught only as a whole literal. The settings' struct tags are
// --help's text and are not looked at.
func TestNoEngineNameLiterals(t *testing.T) {
	var words []string
	for _, n := range append(engine.Names(), engine.OpenJ9APIs()...) {
		if n != "criu" {
			words = append(words, regexp.QuoteMeta(n))
		}
	}
	re := regexp.MustCompile(`\b(` + strings.Join(words, "|") + `)\b`)
	exact := append(engine.Names(), engine.OpenJ9APIs()...)
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		skip := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				skip[n.Path] = true
			case *ast.Field:
				if n.Tag != nil {
					skip[n.Tag] = true
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING || skip[n] {
					break
				}
				if v := strings.Trim(n.Value, "`\""); slices.Contains(exact, v) || re.MatchString(v) {
					t.Errorf("%s: engine name in %s", fset.Position(n.Pos()), n.Value)
				}
			}
			return true
		})
	}
}
