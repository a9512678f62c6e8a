// Package reaper owns wait4(-1): one goroutine reaps every child and orphan of
// this process and hands each exit to whoever started (or adopted) that PID.
// Nothing else in stasis may call wait on a child, exec.Cmd.Wait included.
package reaper
