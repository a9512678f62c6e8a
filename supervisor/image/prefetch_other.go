//go:build !linux

package image

func willNeed(string) {}
