// Package linux is stasis's one reader of /proc and its one EINTR loop:
// /proc/PID/stat, /proc/PID/status (capability sets, seccomp, caught
// signals), the children files, /proc/PID/maps, numbers under /proc/sys,
// and Retry, which repeats an interrupted syscall and names it in the error
// (as runc's internal/linux does).
//
// The parsers build everywhere, so their tests and fuzzers run anywhere; the
// readers live in proc_linux.go and answer errors.ErrUnsupported elsewhere.
// It must not import any other stasis package.
package linux
