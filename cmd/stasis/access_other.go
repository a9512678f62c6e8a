//go:build !linux

package main

// canWrite cannot ask the kernel elsewhere: the checkpoint run will say.
func canWrite(string) error { return nil }
