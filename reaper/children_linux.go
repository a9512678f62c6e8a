package reaper

import (
	"golang.org/x/sys/unix"

	"stasis/internal/linux"
)

func hasChildren() bool {
	var info unix.Siginfo
	err := linux.Retry("waitid", func() error {
		return unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	})
	return err == nil // ECHILD: none left
}

// awaitExit sleeps until some child has exited, without reaping it
// (WNOWAIT). It fails with ECHILD when there is no child at all.
func awaitExit() error {
	var info unix.Siginfo
	return linux.Retry("waitid", func() error {
		return unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
	})
}
