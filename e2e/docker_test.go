package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is what every test shares: the base image, a stasis built from this tree and the
// example image built on both. It is made once, on first use, and its images are removed by
// TestMain (the base image is kept: it is the expensive, registry-free cache).
type fixture struct {
	once    sync.Once
	skip    string // why Docker tests cannot run here
	err     error
	dir     string // scratch directory: the stasis binary and the build context
	stasis  string // stasis binary on the host
	base    string // stasis-base:local
	image   string // the examples/criu image
	capFlag string // --cap-add=CHECKPOINT_RESTORE, or SYS_ADMIN on engines that lack it

	benchImage  string // the benchmark's committed checkpoint image, made once
	benchVolume string // the benchmark's volume holding a checkpoint, made once
}

var shared fixture

// prefix names every container and image the tests make, so that cleanup finds them all.
var prefix = fmt.Sprintf("stasis-e2e-%d", os.Getpid())

func TestMain(m *testing.M) {
	code := m.Run()
	removePodmanImages()
	for _, image := range []string{shared.benchImage, shared.image} {
		if image != "" {
			exec.Command("docker", "rmi", "-f", image).Run()
		}
	}
	if shared.benchVolume != "" {
		exec.Command("docker", "volume", "rm", "-f", shared.benchVolume).Run()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup returns the shared fixture, skipping the test when no Docker engine answers and failing
// it when building what the tests need fails.
func setup(t testing.TB) *fixture {
	t.Helper()
	shared.once.Do(shared.prepare)
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return &shared
}

func (f *fixture) prepare() {
	if _, err := exec.LookPath("docker"); err != nil {
		f.skip = "no docker command on PATH"
		return
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		f.skip = fmt.Sprintf("no Docker engine answers (docker info: %v: %s)", err, firstLine(out))
		return
	}
	if os.Geteuid() != 0 {
		f.skip = "building the base image needs root (debootstrap)"
		return
	}
	f.err = f.build()
}

func (f *fixture) build() error {
	var err error
	if f.dir, err = os.MkdirTemp("", prefix); err != nil {
		return fmt.Errorf("make scratch directory: %w", err)
	}
	if f.stasis, err = buildStasis(f.dir); err != nil {
		return err
	}
	if f.base, err = baseImage(); err != nil {
		return err
	}
	f.image = prefix + "-criu"
	if err := buildExample(f.dir, f.stasis, f.base, f.image); err != nil {
		return err
	}
	f.capFlag, err = checkpointCap(f.image)
	return err
}

// repoRoot is the module's root: tests run in the package directory.
func repoRoot() string {
	root, _ := filepath.Abs("..")
	return root
}

// buildStasis builds a static stasis from this tree, so the test never runs a stale bin/stasis.
func buildStasis(dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "stasis")
	cmd := exec.Command(goCmd, "build", "-trimpath", "-o", out, "./cmd/stasis")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build stasis: %w: %s", err, b)
	}
	return out, nil
}

// baseImage runs scripts/docker-base (quick when stasis-base:local exists) and returns the
// image name it prints last.
func baseImage() (string, error) {
	start := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "docker-base"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build base image with scripts/docker-base: %w: %s", err, stderr.Bytes())
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return "", errors.New("build base image with scripts/docker-base: no image name printed")
	}
	fmt.Fprintf(os.Stderr, "e2e: base image %s ready in %v\n", lines[len(lines)-1], time.Since(start).Round(time.Millisecond))
	return lines[len(lines)-1], nil
}

// buildExample builds examples/criu the way its README says: the build context is examples/
// with the stasis binary copied into it (here a scratch copy, so the repository stays clean).
func buildExample(dir, stasis, base, image string) error {
	ctx := filepath.Join(dir, "context")
	cp := exec.Command("cp", "-r", filepath.Join(repoRoot(), "examples"), ctx)
	if b, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("copy examples to %s: %w: %s", ctx, err, b)
	}
	if b, err := exec.Command("cp", stasis, filepath.Join(ctx, "stasis")).CombinedOutput(); err != nil {
		return fmt.Errorf("copy stasis into %s: %w: %s", ctx, err, b)
	}
	_, err := docker("build", "-q", "--build-arg", "BASE="+base, "-t", image,
		"-f", filepath.Join(ctx, "criu", "Dockerfile"), ctx)
	return err
}

// checkpointCap picks the capability that lets CRIU restore PIDs and read map_files:
// CHECKPOINT_RESTORE where the engine knows it. Docker 20.10 as Debian bookworm ships it rejects
// it ("unknown capability: CAP_CHECKPOINT_RESTORE"), and there SYS_ADMIN is the only one that
// grants the same.
func checkpointCap(image string) (string, error) {
	out, err := docker("run", "--rm", "--cap-add=CHECKPOINT_RESTORE", "--entrypoint", "/stasis", image, "version")
	if err == nil {
		return "--cap-add=CHECKPOINT_RESTORE", nil
	}
	if strings.Contains(err.Error(), "unknown capability") {
		fmt.Fprintf(os.Stderr, "e2e: this Docker engine does not know CAP_CHECKPOINT_RESTORE; using SYS_ADMIN\n")
		return "--cap-add=SYS_ADMIN", nil
	}
	return "", fmt.Errorf("run stasis version in %s: %w (%s)", image, err, out)
}

// docker runs the docker command and returns its trimmed stdout; the error carries stderr.
func docker(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// container is one container a test made; t.Cleanup removes it.
type container struct {
	t    testing.TB
	name string
}

// run starts a detached container named after the test and returns once docker run has.
func run(t testing.TB, name string, args ...string) *container {
	t.Helper()
	c := &container{t: t, name: prefix + "-" + name}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", c.name).Run() })
	full := append([]string{"run", "-d", "--name", c.name}, args...)
	if _, err := docker(full...); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *container) inspect(format string) string {
	c.t.Helper()
	out, err := docker("inspect", "--format", format, c.name)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// logs is what `docker logs` shows: the container's stdout and stderr, interleaved.
func (c *container) logs() string {
	c.t.Helper()
	out, err := exec.Command("docker", "logs", c.name).CombinedOutput()
	if err != nil {
		c.t.Fatalf("docker logs %s: %v: %s", c.name, err, out)
	}
	return string(out)
}

// wait waits for the container to stop and returns its exit code.
func (c *container) wait(timeout time.Duration) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "wait", c.name).Output()
	if ctx.Err() != nil {
		c.t.Fatalf("container %s still running after %v; its logs:\n%s", c.name, timeout, tail(c.logs(), 40))
	}
	if err != nil {
		c.t.Fatalf("docker wait %s: %v", c.name, err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		c.t.Fatalf("docker wait %s: exit code %q: %v", c.name, out, err)
	}
	return code
}

// waitHealth waits until Docker's HEALTHCHECK says want, and fails the test on timeout.
func (c *container) waitHealth(want string, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	var status string
	for time.Since(start) < timeout {
		if status = c.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}"); status == want {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("container %s health %q, not %q, after %v; last probes: %s", c.name, status, want,
		timeout, c.inspect("{{json .State.Health}}"))
	return 0
}

// freePort is a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var client = &http.Client{Timeout: 2 * time.Second}

// get returns the body of a 200 answer to GET url.
func get(url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// waitAnswer polls url until it answers 200 (Docker's proxy accepts connections before the
// container listens, so refusals and resets only mean "not yet").
func waitAnswer(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if _, err = get(url); err == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s within %v: %w", url, timeout, err)
}

// engineMissing says why the checkpoint tests cannot run yet: the stasis of this tree has no
// healthcheck subcommand, so it would exec a program named "healthcheck" (exit 127). That is
// the state before the engine lands; once `stasis healthcheck` exists, the tests run for real.
func engineMissing(stasis string) string {
	cmd := exec.Command(stasis, "healthcheck")
	cmd.Env = append(os.Environ(), "STASIS_HEALTH=tcp://127.0.0.1:1", "STASIS_HEALTH_TIMEOUT=1s")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 127 && bytes.Contains(out, []byte("healthcheck: command not found")) {
		return "this stasis has no healthcheck subcommand yet (the checkpoint engine has not landed)"
	}
	return ""
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
