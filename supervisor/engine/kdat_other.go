//go:build !linux

package engine

func onTmpfs(string) bool { return false }

func kdatSyscalls() string { return "" }
