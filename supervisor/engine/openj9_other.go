//go:build !linux

package engine

func findDumper(jvm int) (dumpSite, bool) { return dumpSite{}, false }

func processAlive(pid int) bool { return false }
