// Package e2e holds stasis's Docker end-to-end tests: they build the local base image
// (scripts/docker-base, no registry), build examples/criu with a freshly built stasis, and run it
// the way a user would: a checkpoint container, `docker commit`, a restore container, health
// checks, `docker logs` and `docker stop`. Where no Docker engine answers, they skip with the
// reason.
//
// The podman tests (-run Podman) build examples/build-step, whose RUN step is the checkpoint
// run, and restore the image that comes out, both with the measured sets (CHECKPOINT_RESTORE,
// SYS_PTRACE only under Yama's ptrace_scope 1 or 2, seccomp unconfined for the checkpoint step
// only); the registry test (-run Registry) pushes it to a
// docker-registry on the loopback address, checks the layers, pulls it back and restores it.
// TestPodmanCheckpointRestoreLeastPrivilege runs the Docker flow with examples/criu in podman,
// with podman's default capabilities plus only the measured ones (CHECKPOINT_RESTORE, which
// Docker 20.10 does not know). They skip with the reason where podman, a runtime it can use,
// Docker (the base image's source) or docker-registry is missing.
//
// The package has no code of its own; it drives the docker command and the stasis binary from
// the outside and imports nothing from stasis.
package e2e
