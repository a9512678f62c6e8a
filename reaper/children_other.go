//go:build !linux

package reaper

func hasChildren() bool { return false }
