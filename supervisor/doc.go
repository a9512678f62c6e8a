// Package supervisor is the PID-1 loop of stasis: it starts the command
// through the reaper, forwards signals to it, stops it on SIGTERM/SIGINT with
// a SIGKILL after the stop timeout, and cleans up the descendants it leaves
// behind. The checkpoint and restore phases build on these pieces: Plan
// decides what a start does, CheckRestorable whether an image can be
// restored here (the restore, `stasis inspect` and the doctor all ask
// them); the runtime-specific parts live in supervisor/engine.
//
// It must not read the environment or build a logger: cmd/stasis does both.
package supervisor
