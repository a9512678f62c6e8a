package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names are the files a checkpoint run creates in the image directory, as
// printf-style templates the way the runtimes spell them ("core-%u.img",
// "stats-%s", "dump4.log"): %u, %d, %lu and %ld stand for a decimal number,
// %x for a hexadecimal one, %s for any name part. The engines own their
// lists (supervisor/engine); stasis adds its own (the manifest and its
// temporary file). The image directory belongs to the user: nothing else in
// it is ever removed, listed in a manifest or changed.
//
// Ownership goes by name, not by "listed in the last manifest": a dump must
// start from a directory without the engine's files of an earlier, failed
// or interrupted run, since CRIU creates every image file with O_EXCL
// (checkpoint-restore/criu criu/include/image.h, O_DUMP) and a stale
// stats-dump would vouch for a dump that never finished.
type Names []string

// stasisNames are the files stasis itself writes into the image directory.
var stasisNames = Names{ManifestName, ".stasis.json.%s"}

// Owned reports whether name, a file directly in the image directory, is
// one that the engine or stasis creates.
func (n Names) Owned(name string) bool {
	if strings.ContainsRune(name, '/') {
		return false
	}
	for _, t := range append(n[:len(n):len(n)], stasisNames...) {
		if matchTemplate(t, name) {
			return true
		}
	}
	return false
}

// matchTemplate matches name against one template.
func matchTemplate(t, name string) bool {
	for len(t) > 0 {
		if t[0] != '%' {
			if len(name) == 0 || name[0] != t[0] {
				return false
			}
			t, name = t[1:], name[1:]
			continue
		}
		verb, rest := templateVerb(t)
		class := verbClass(verb)
		// A verb matches one or more characters of its class; try every length.
		for i := 1; i <= len(name) && class(name[i-1]); i++ {
			if matchTemplate(rest, name[i:]) {
				return true
			}
		}
		return false
	}
	return len(name) == 0
}

// templateVerb splits "%lu.img" into "lu" and ".img".
func templateVerb(t string) (string, string) {
	i := 1
	for i < len(t) && t[i] == 'l' {
		i++
	}
	if i < len(t) {
		i++
	}
	return t[1:i], t[i:]
}

func verbClass(verb string) func(byte) bool {
	switch strings.TrimLeft(verb, "l") {
	case "u":
		return func(c byte) bool { return c >= '0' && c <= '9' }
	case "d":
		return func(c byte) bool { return c >= '0' && c <= '9' || c == '-' }
	case "x":
		return func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
	case "s":
		return func(c byte) bool { return c != '/' }
	}
	return func(byte) bool { return false }
}

// removeOwned removes what a checkpoint run created directly in dir:
// regular files and FIFOs that names owns. Directories, symbolic links and
// every other name are the user's and stay. With keepLogs, logs stay too
// (after a failure, they say why).
func removeOwned(dir string, names Names, keepLogs bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list image directory %s: %w", dir, err)
	}
	for _, e := range ents {
		t := e.Type()
		if !(t.IsRegular() || t&fs.ModeNamedPipe != 0) || !names.Owned(e.Name()) {
			continue
		}
		if keepLogs && strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove old image file: %w", err)
		}
	}
	return nil
}

// Protect makes the image private to its owner: the directory 0700 and
// every image file 0600. The files hold the JVM's memory, secrets included,
// and CRIU creates them 0644 (checkpoint-restore/criu criu/include/crtools.h,
// CR_FD_PERM), CRaC's cppath too (openjdk/crac
// src/java.base/unix/native/criuengine/criuengine.cpp, create_cppath).
func Protect(dir string, files []File) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make image directory private: %w", err)
	}
	for _, f := range files {
		if err := os.Chmod(filepath.Join(dir, f.Name), 0o600); err != nil {
			return fmt.Errorf("make image file private: %w", err)
		}
	}
	return nil
}
