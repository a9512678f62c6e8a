//go:build linux

package engine

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

// findDumper looks for a CRIU that dumps: a process whose command line runs
// criu (directly or through a loader) with "dump" or "swrk" (OpenJ9's
// libcriu starts `criu swrk`).
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
		if s, ok := dumperSite("/proc/" + e.Name()); ok {
			return s, true
		}
	}
	return dumpSite{}, false
}

// dumperSite reads where the CRIU dump at proc writes. `criu dump` says it
// in its arguments. `criu swrk` gets it over RPC instead and chdirs to the
// work directory (the image directory unless set; criu/cr-service.c
// setup_opts_from_req), so its working directory is the work directory and
// a directory it holds open that is not the work directory is the image
// directory: libcriu's swrk inherits the JVM's descriptors, the JVM's work
// directory among them, so the fd order proves nothing. A regular file it
// holds in the work directory is its log.
func dumperSite(proc string) (dumpSite, bool) {
	b, err := os.ReadFile(proc + "/cmdline")
	if err != nil {
		return dumpSite{}, false
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if !isCRIUDump(argv) {
		return dumpSite{}, false
	}
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		return dumpSite{}, false
	}
	if s, ok := dumpSiteFromArgs(argv, cwd); ok {
		return s, true
	}
	s := dumpSite{workDir: cwd}
	workOpen := false
	for _, fd := range openFDs(proc) {
		target, err := os.Readlink(proc + "/fd/" + fd)
		if err != nil || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/proc") {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(proc+"/fd/"+fd, &st) != nil {
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if target == cwd {
				workOpen = true
			} else if s.imageDir == "" {
				s.imageDir = target
			}
		case unix.S_IFREG:
			if s.log == "" && filepath.Dir(target) == s.workDir {
				s.log = target
			}
		}
	}
	if s.imageDir == "" && workOpen {
		s.imageDir = cwd // the work directory is the image directory
	}
	return s, s.imageDir != ""
}

// openFDs lists a process's descriptors in numeric order.
func openFDs(proc string) []string {
	ents, _ := os.ReadDir(proc + "/fd")
	fds := make([]int, 0, len(ents))
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, n)
		}
	}
	sort.Ints(fds)
	names := make([]string, len(fds))
	for i, n := range fds {
		names[i] = strconv.Itoa(n)
	}
	return names
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
	st, err := linux.ReadStat(pid)
	return err == nil && !st.Gone()
}
