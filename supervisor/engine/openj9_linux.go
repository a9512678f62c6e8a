//go:build linux

package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// findDumper looks for a CRIU that dumps: a process whose command line runs
// criu (directly or through a loader) with "dump" or "swrk" (OpenJ9's
// libcriu starts `criu swrk`). Its working directory is the work directory,
// the first directory it holds open outside /proc the image directory, and
// a regular file it holds in the work directory its log.
func findDumper(jvm int) (dumpSite, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return dumpSite{}, false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == jvm || pid == os.Getpid() {
			continue
		}
		proc := "/proc/" + e.Name()
		b, err := os.ReadFile(proc + "/cmdline")
		if err != nil || !isCRIUDump(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		cwd, err := os.Readlink(proc + "/cwd")
		if err != nil {
			continue
		}
		if s, ok := dumpSiteFromArgs(argv, cwd); ok {
			return s, true
		}
		s := dumpSite{workDir: cwd}
		fds, _ := os.ReadDir(proc + "/fd")
		for _, fd := range fds {
			target, err := os.Readlink(proc + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/proc") {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(proc+"/fd/"+fd.Name(), &st) != nil {
				continue
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				if s.imageDir == "" {
					s.imageDir = target
				}
			case unix.S_IFREG:
				if s.log == "" && filepath.Dir(target) == s.workDir {
					s.log = target
				}
			}
		}
		if s.imageDir != "" {
			return s, true
		}
	}
	return dumpSite{}, false
}

// dumpSiteFromArgs reads a `criu dump` command line: -D (the images), -W
// (the work directory, by default the images') and -o (the log, relative
// to the work directory). `criu swrk` gets them over RPC instead.
func dumpSiteFromArgs(argv []string, cwd string) (dumpSite, bool) {
	var s dumpSite
	abs := func(p, base string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	var logFile string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		val := func(short, long string) (string, bool) {
			if (a == short || a == long) && i+1 < len(argv) {
				i++
				return argv[i], true
			}
			if v, ok := strings.CutPrefix(a, long+"="); ok {
				return v, true
			}
			return "", false
		}
		if v, ok := val("-D", "--images-dir"); ok {
			s.imageDir = abs(v, cwd)
		} else if v, ok := val("-W", "--work-dir"); ok {
			s.workDir = abs(v, cwd)
		} else if v, ok := val("-o", "--log-file"); ok {
			logFile = v
		}
	}
	if s.imageDir == "" {
		return s, false
	}
	if s.workDir == "" {
		s.workDir = s.imageDir
	}
	if logFile != "" && logFile != "-" {
		s.log = abs(logFile, s.workDir)
	}
	return s, true
}

func isCRIUDump(argv []string) bool {
	for i, a := range argv {
		if filepath.Base(a) == "criu" {
			for _, b := range argv[i+1:] {
				if b == "dump" || b == "swrk" {
					return true
				}
			}
		}
	}
	return false
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}
