// Package pidspace owns the PID counter of stasis's PID namespace: before the JVM is launched for
// a checkpoint, stasis (PID 1) moves the namespace's next PID past a minimum, because CRIU
// restores every process with its checkpoint-time PID and a low PID is likely taken in the
// container that restores it.
//
// Two ways to move the counter: write /proc/sys/kernel/ns_last_pid (needs CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE over the namespace; sub-millisecond), or burn PIDs by creating and
// reaping short-lived processes (works unprivileged; a vfork-style clone whose child exits at
// once: about 20 µs a PID on a 2-CPU VM). Holder explains who blocks a PID; CheckAbove checks a launched PID.
//
// It must not import other stasis packages but internal/linux, read STASIS_* variables, or wait
// for children it did not create: its burned children are clone children that only it reaps (see
// burn_linux.go).
package pidspace
