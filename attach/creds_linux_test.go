//go:build linux

package attach

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConnectAsSetsPeerCredentials checks the credential switch directly:
// the listener must see the borrowed ids in SO_PEERCRED, and no thread of
// this process may keep them.
func TestConnectAsSetsPeerCredentials(t *testing.T) {
	requireRoot(t)
	// Not t.TempDir: its parent is private to root, and uid 65534 must
	// reach the socket.
	dir, err := os.MkdirTemp("", "attach-creds-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(path, 0o777) // let uid 65534 connect
	for i := 0; i < 20; i++ {
		fd, err := connectAs(path, 65534, 65533)
		if err != nil {
			t.Fatalf("connectAs: %v", err)
		}
		c, err := ln.AcceptUnix()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := c.SyscallConn()
		var cred *unix.Ucred
		var gerr error
		raw.Control(func(s uintptr) { cred, gerr = unix.GetsockoptUcred(int(s), unix.SOL_SOCKET, unix.SO_PEERCRED) })
		c.Close()
		unix.Close(fd)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if cred.Uid != 65534 || cred.Gid != 65533 {
			t.Fatalf("peer credentials uid %d gid %d, want 65534 65533", cred.Uid, cred.Gid)
		}
	}
	for task, id := range threadUIDs(t) {
		if id != 0 {
			t.Errorf("%s kept euid*100000+egid %d after connectAs", task, id)
		}
	}
	if os.Geteuid() != 0 || os.Getegid() != 0 {
		t.Errorf("process ids changed: euid %d egid %d", os.Geteuid(), os.Getegid())
	}
}
