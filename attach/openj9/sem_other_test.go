//go:build !linux || !(amd64 || arm64 || riscv64 || ppc64le || s390x)

package openj9attach

func semRemove(path string) {}
