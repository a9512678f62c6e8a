package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The podman tests build examples/build-step, whose RUN step is the checkpoint run, and restore
// the image that comes out of the build; the registry test pushes it to a real registry on the
// loopback address, removes it, pulls it back and restores from what came back.

// buildWarmups is STASIS_WARMUP_REQUESTS in examples/build-step/Dockerfile: the restored
// counter answers one more.
const buildWarmups = 500

// podmanLimits: podman gives its containers its default nofile and nproc limits (1048576),
// above this machine's hard limits, and the runtime cannot raise a hard limit without
// CAP_SYS_RESOURCE ("error setting rlimits for ready process: ... operation not permitted").
// Builds and runs alike get limits below the hard ones.
var podmanLimits = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}

// buildCaps are the checkpoint step's privileges, the criu engine's measured checkpoint set
// (README.md, "Least privilege"): the runtime's default capabilities plus CHECKPOINT_RESTORE,
// SYS_PTRACE only where Yama's ptrace_scope asks for it (lpCaps), and no seccomp filter (CRIU
// must suspend the JVM's filter, which the kernel refuses to a tracer under seccomp). Without
// SYS_ADMIN stasis runs `criu dump --unprivileged`, which skips the kernel probes that create a
// network namespace (checkpoint-restore/criu criu/kerndat.c, root_only_init).
func buildCaps() []string {
	return append(lpCaps(), "--security-opt", "seccomp=unconfined")
}

// restoreCaps are the restore's: the capabilities the checkpoint step gave the JVM (CRIU gives
// them back and fails, "Unable to restore capabilities", where one is missing), with the
// runtime's default seccomp profile.
func restoreCaps() []string { return lpCaps() }

// podmanFixture is what the podman and registry tests share: the base image in podman's
// store, the runtime flag that works here, and the image built with the checkpoint inside.
type podmanFixture struct {
	prepared
	dir      string
	runtime  []string // --runtime runc where podman's default runtime cannot run containers
	base     string
	context  string // examples/ with the stasis binary
	image    string
	buildLog string
}

var podmanShared podmanFixture

// removePodmanImages is called by TestMain.
func removePodmanImages() {
	if podmanShared.image != "" {
		exec.Command("podman", "rmi", "-f", podmanShared.image).Run()
	}
	if podmanShared.dir != "" {
		os.RemoveAll(podmanShared.dir)
	}
	// The least-privilege fixture's, also when its test failed before its own cleanup was set.
	if lpShared.image != "" {
		exec.Command("podman", "rmi", "-f", lpShared.image).Run()
	}
	if lpShared.dir != "" {
		os.RemoveAll(lpShared.dir)
	}
}

func podmanSetup(t testing.TB) *podmanFixture {
	t.Helper()
	podmanShared.ready(t, podmanShared.prepare)
	return &podmanShared
}

// prepared is what a fixture shared by tests records of its one preparation.
type prepared struct {
	once sync.Once
	skip string // why the tests cannot run here
	err  error  // why the preparation failed
}

// ready prepares the fixture once, then skips or fails t as the preparation said.
func (x *prepared) ready(t testing.TB, prepare func()) {
	t.Helper()
	x.once.Do(prepare)
	if x.skip != "" {
		t.Skip(x.skip)
	}
	if x.err != nil {
		t.Fatal(x.err)
	}
}

func (f *podmanFixture) prepare() {
	if f.skip = podmanSkip(); f.skip == "" {
		f.err = f.build()
	}
}

// podmanSkip says why no podman test can run here, or "": they run rootful podman, and
// scripts/podman-base copies the base image from Docker.
func podmanSkip() string {
	if _, err := exec.LookPath("podman"); err != nil {
		return "no podman command on PATH (scripts/install-deps installs it)"
	}
	if os.Geteuid() != 0 {
		return "the podman tests run rootful podman (root needed)"
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return "scripts/podman-base copies the base image from Docker, and there is no docker command"
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Sprintf("scripts/podman-base copies the base image from Docker, and no Docker engine answers (%v: %s)", err, firstLine(out))
	}
	return ""
}

func (f *podmanFixture) build() error {
	var err error
	if f.dir, err = os.MkdirTemp("", prefix+"-podman"); err != nil {
		return fmt.Errorf("make scratch directory: %w", err)
	}
	stasis, err := buildStasis(f.dir)
	if err != nil {
		return err
	}
	if f.base, err = podmanBase(); err != nil {
		return err
	}
	if f.runtime, err = podmanRuntime(f.base); err != nil {
		f.skip = err.Error()
		return nil
	}
	if f.context, err = buildContext(f.dir, stasis); err != nil {
		return err
	}
	f.image = "localhost/" + prefix + "-build-step"
	f.buildLog, err = f.buildImage(f.image)
	return err
}

// buildImage builds examples/build-step as image with the checkpoint step's privileges, and
// returns the build's output. --format docker keeps the HEALTHCHECK, which podman's default
// OCI format drops ("HEALTHCHECK is not supported for OCI image format and will be ignored").
// --no-cache: the checkpoint step must run, not come from the layer cache of an earlier
// build of the same context. extra are more build options.
func (f *podmanFixture) buildImage(image string, extra ...string) (string, error) {
	args := append([]string{"build", "--no-cache", "--format", "docker"}, f.runtime...)
	args = append(args, podmanLimits...)
	args = append(args, buildCaps()...)
	args = append(args, extra...)
	args = append(args, "--build-arg", "BASE="+f.base, "-t", image,
		"-f", filepath.Join(f.context, "build-step", "Dockerfile"), f.context)
	start := time.Now()
	out, err := podman(args...)
	fmt.Fprintf(os.Stderr, "e2e: podman build %s with the checkpoint step in %v\n", strings.Join(extra, " "), time.Since(start).Round(time.Millisecond))
	return out, err
}

// podmanBase runs scripts/podman-base (quick when podman has the image) and returns the image
// name it prints last.
func podmanBase() (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "podman-base"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/podman-base: %w: %s", err, stderr.Bytes())
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "", errors.New("scripts/podman-base printed no image name")
	}
	return f[len(f)-1], nil
}

// podmanRuntime finds an OCI runtime that runs a container here. On this machine's hybrid
// cgroup layout (v1 controllers, hugetlb on the v2 hierarchy) crun refuses every container
// ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2") and runc runs
// them; elsewhere podman's default does.
func podmanRuntime(base string) ([]string, error) {
	var why []string
	for _, rt := range [][]string{nil, {"--runtime", "runc"}} {
		args := append(append([]string{"run", "--rm"}, rt...), podmanLimits...)
		out, err := podman(append(args, base, "/bin/true")...)
		if err == nil {
			return rt, nil
		}
		why = append(why, fmt.Sprintf("%v%s", err, out))
	}
	return nil, fmt.Errorf("podman runs no container here: %s", strings.Join(why, "; "))
}

// buildContext copies examples/ and the stasis binary into a scratch build context.
func buildContext(dir, stasis string) (string, error) {
	ctx := filepath.Join(dir, "context")
	if b, err := exec.Command("cp", "-r", filepath.Join(repoRoot(), "examples"), ctx).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy examples to %s: %w: %s", ctx, err, b)
	}
	if b, err := exec.Command("cp", stasis, filepath.Join(ctx, "stasis")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy stasis into %s: %w: %s", ctx, err, b)
	}
	return ctx, nil
}

// podman runs the podman command and returns its stdout and stderr together; the error
// carries their end.
func podman(args ...string) (string, error) {
	cmd := exec.Command("podman", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, tail(out.String(), 30))
	}
	return out.String(), nil
}

// restoreRun starts image with only the restore's privileges, checks that the JVM came back
// with its state (GET /count answers one more than the checkpoint's warm-up), that it was
// restored, not started cold, that `stasis healthcheck` answers, and that a stop ends it
// with the JVM's own status.
// extra are more options of podman run.
func restoreRun(t *testing.T, f *podmanFixture, image string, extra ...string) {
	t.Helper()
	name := fmt.Sprintf("%s-%s", prefix, strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"))
	port := freePort(t)
	args := append(append([]string{"run", "-d", "--name", name}, f.runtime...), podmanLimits...)
	args = append(args, restoreCaps()...)
	args = append(args, extra...)
	args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), image)
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", name).Run() })
	start := time.Now()
	if _, err := podman(args...); err != nil {
		t.Fatal(err)
	}
	logs := func() string { out, _ := podman("logs", name); return out }
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitAnswer(base+"/health", 60*time.Second); err != nil {
		t.Fatalf("restore container: %v; logs:\n%s", err, tail(logs(), 40))
	}
	t.Logf("restore container: podman run to first answer in %v", time.Since(start).Round(time.Millisecond))
	if got, err := get(base + "/count"); err != nil || got != strconv.Itoa(buildWarmups+1) {
		t.Fatalf("restored GET /count = %q, %v; want %d; logs:\n%s", got, err, buildWarmups+1, tail(logs(), 40))
	}
	// The image's HEALTHCHECK, run once by podman (its timer needs systemd): /stasis healthcheck.
	if out, err := podman("healthcheck", "run", name); err != nil {
		t.Errorf("the image's HEALTHCHECK in the restored container: %v\n%s", err, out)
	}
	out := logs()
	for _, want := range []string{"restored pid=", fmt.Sprintf("request GET /count -> %d", buildWarmups+1)} {
		if !strings.Contains(out, want) {
			t.Errorf("logs of the restore lack %q; they end:\n%s", want, tail(out, 30))
		}
	}
	if strings.Contains(out, "Started in ") {
		t.Errorf("the JVM started cold instead of being restored; logs:\n%s", tail(out, 40))
	}
	if _, err := podman("stop", "-t", "20", name); err != nil {
		t.Fatal(err)
	}
	if code, _ := podman("inspect", "--format", "{{.State.ExitCode}}", name); strings.TrimSpace(code) != "143" {
		t.Errorf("exit code after podman stop = %s, want the JVM's 143; logs:\n%s", strings.TrimSpace(code), tail(logs(), 20))
	}
}

// TestPodmanBuildCheckpoint: `podman build` of examples/build-step makes the checkpoint in its
// RUN step (stasis is the build shell's child there, not PID 1), and the image that comes out
// restores with only the restore's privileges.
func TestPodmanBuildCheckpoint(t *testing.T) {
	f := podmanSetup(t)
	for _, want := range []string{fmt.Sprintf("request GET /count -> %d", buildWarmups), "checkpoint complete"} {
		if !strings.Contains(f.buildLog, want) {
			t.Errorf("the build's output lacks %q; it ends:\n%s", want, tail(f.buildLog, 30))
		}
	}
	tree := exportTree(t, f, f.image)
	var m struct{ PID int }
	if err := json.Unmarshal(tree["checkpoint/stasis.json"].content, &m); err != nil || m.PID <= 1000 {
		t.Errorf("manifest in the image: pid %d (%v), want a JVM pid above STASIS_MIN_PID=1000", m.PID, err)
	}
	// The checkpoint step's leftovers that do not belong in the image: its state directory
	// (control socket), CRIU's kernel-feature cache, the JVM's attach socket.
	for name := range tree {
		if strings.HasPrefix(name, "run/stasis") || strings.HasPrefix(name, "run/criu.kdat") || strings.HasPrefix(name, "tmp/.java_pid") {
			t.Errorf("the image holds %s, left by the checkpoint step", name)
		}
	}
	restoreRun(t, f, f.image)
}

// TestPodmanRestoreReadOnlyRoot restores the built image the way examples/kubernetes runs it:
// a read-only root filesystem (the image directory with it), STASIS_STATE_DIR and /tmp on
// tmpfs. The product promises that everything a restore writes goes to STASIS_STATE_DIR; CRIU
// binds the JVM's attach socket in /tmp again.
func TestPodmanRestoreReadOnlyRoot(t *testing.T) {
	f := podmanSetup(t)
	restoreRun(t, f, f.image, "--read-only", "--tmpfs", "/run/stasis", "--tmpfs", "/tmp")
}

// TestPodmanBuildCheckpointChrootIsolation: with `--isolation chroot` a RUN step gets no PID
// namespace of its own; stasis and the JVM share the host's with the build's shell and every
// other process there. The JVM's PID is then a host PID far above STASIS_MIN_PID, stasis ends
// only what it started, and the image restores in a container, whose fresh namespace has that
// PID free.
func TestPodmanBuildCheckpointChrootIsolation(t *testing.T) {
	f := podmanSetup(t)
	image := "localhost/" + prefix + "-build-step-chroot"
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", image).Run() })
	out, err := f.buildImage(image, "--isolation", "chroot")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "checkpoint complete") {
		t.Fatalf("the build's output lacks the checkpoint; it ends:\n%s", tail(out, 30))
	}
	tree := exportTree(t, f, image)
	var m struct{ PID int }
	if err := json.Unmarshal(tree["checkpoint/stasis.json"].content, &m); err != nil || m.PID <= 1000 {
		t.Errorf("manifest in the image: pid %d (%v), want a JVM pid above STASIS_MIN_PID=1000", m.PID, err)
	}
	restoreRun(t, f, image)
}

// entry is one file of an image's filesystem, as a tar stream of it shows it.
type entry struct {
	typ     byte
	mode    int64
	uid     int
	gid     int
	size    int64
	link    string
	content []byte // regular files under checkpoint/ only
}

func (e entry) String() string {
	return fmt.Sprintf("type %c mode %04o uid %d gid %d size %d link %q", e.typ, e.mode, e.uid, e.gid, e.size, e.link)
}

// exportTree reads the filesystem of a container created from image (never started) through
// `podman export`, keeping the contents of the files under checkpoint/.
func exportTree(t testing.TB, f *podmanFixture, image string) map[string]entry {
	t.Helper()
	id, err := podman(append(append([]string{"create"}, f.runtime...), image)...)
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	defer exec.Command("podman", "rm", "-f", id).Run()
	cmd := exec.Command("podman", "export", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tree, err := readTree(out, "checkpoint/")
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("podman export %s: %w", image, werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// readTree lists a tar stream's entries by cleaned name, keeping the contents of the
// regular files whose names start with keep.
func readTree(r io.Reader, keep string) (map[string]entry, error) {
	tree := map[string]entry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tree, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		name := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		e := entry{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, size: h.Size, link: h.Linkname}
		if h.Typeflag == tar.TypeReg && strings.HasPrefix(name, keep) {
			if e.content, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("read %s from tar: %w", name, err)
			}
		}
		tree[name] = e
	}
}
