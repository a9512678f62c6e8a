package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// removeStaleAttachFiles removes what JVMs of these tests leave in the shared
// /tmp when they die by SIGKILL or by their dump: HotSpot's attach socket
// /tmp/.java_pidN (bound as .java_pidN.tmp and renamed, and a restore binds
// the bound name again: both are seen) and the .attach_pidN trigger file, for
// the namespace PIDs from..to. A socket that accepts a connection belongs to
// a live JVM (another test's, in another namespace, with the same PID) and is
// kept; one that refuses twice, 200 ms apart, is stale (a JVM or CRIU binds a
// moment before it listens). A .attach_pid file is removed by its client once
// the JVM answered, within its attach timeout: one older than that is stale.
func removeStaleAttachFiles(from, to int) {
	var refused []string
	for pid := from; pid < to; pid++ {
		for _, name := range []string{".java_pid%d", ".java_pid%d.tmp"} {
			path := "/tmp/" + fmt.Sprintf(name, pid)
			if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == os.ModeSocket && refuses(path) {
				refused = append(refused, path)
			}
		}
		path := fmt.Sprintf("/tmp/.attach_pid%d", pid)
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > 30*time.Second {
			os.Remove(path)
		}
	}
	if len(refused) == 0 {
		return
	}
	time.Sleep(200 * time.Millisecond)
	for _, path := range refused {
		if refuses(path) {
			os.Remove(path)
		}
	}
}

// refuses says whether nobody listens on the unix socket at path.
func refuses(path string) bool {
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
