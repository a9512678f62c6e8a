// Package e2e holds stasis's Docker end-to-end tests: they build the local base image
// (scripts/docker-base, no registry), build examples/criu with a freshly built stasis, and run it
// the way a user would: a checkpoint container, `docker commit`, a restore container, health
// checks, `docker logs` and `docker stop`. Where no Docker engine answers, they skip with the
// reason.
//
// The package has no code of its own; it drives the docker command and the stasis binary from
// the outside and imports nothing from stasis.
package e2e
