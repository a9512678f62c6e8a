package doctor

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// ReadJDK describes the JDK at home from its release file (every JDK build
// ships one), without starting a JVM: the doctor must be quick.
func ReadJDK(java, home, flavour string) JDK {
	j := JDK{Java: java, Home: home, Flavour: flavour}
	b, err := os.ReadFile(filepath.Join(home, "release"))
	if err != nil {
		return j
	}
	rel := parseRelease(b)
	j.Vendor = rel["IMPLEMENTOR"]
	j.Version = rel["JAVA_RUNTIME_VERSION"]
	if j.Version == "" {
		j.Version = rel["JAVA_VERSION"]
	}
	return j
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
