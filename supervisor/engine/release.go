package engine

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// Release is what a JDK's release file says of it (every JDK build ships
// one): read without starting a JVM, so the doctor stays quick and the
// manifest names the version.
type Release struct {
	Vendor  string
	Version string
}

// ReadRelease reads home/release; the zero Release when there is none.
func ReadRelease(home string) Release {
	b, err := os.ReadFile(filepath.Join(home, "release"))
	if err != nil {
		return Release{}
	}
	rel := parseRelease(b)
	r := Release{Vendor: rel["IMPLEMENTOR"], Version: rel["JAVA_RUNTIME_VERSION"]}
	if r.Version == "" {
		r.Version = rel["JAVA_VERSION"]
	}
	return r
}

// parseRelease reads the KEY="VALUE" lines of a JDK's release file.
func parseRelease(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		m[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return m
}
