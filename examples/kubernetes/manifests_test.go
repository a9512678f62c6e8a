// Package kubernetes checks the example manifests against the Kubernetes API's own Go types
// (k8s.io/api, decoded strictly with sigs.k8s.io/yaml: an unknown or duplicated field is an
// error), and checks what they must say about stasis: probes that outlast a restore and its
// cold fallback, a writable state directory on a read-only root filesystem, the same
// capabilities and node pool for the build and the restore, and the Pod Security level that
// those capabilities need.
//
// It is a module of its own, so the Kubernetes API stays out of stasis's dependencies.
package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// coldStart is what this example allows for a cold start after a failed restore, on top of
// STASIS_RESTORE_TIMEOUT, before the startup probe may give up. The demo service starts cold
// in under a second here; a real service's allowance is its own cold start.
const coldStart = 30 * time.Second

// Defaults from `stasis --help` (cmd/stasis/config.go).
const (
	defaultRestoreTimeout = 60 * time.Second
	defaultHealthTimeout  = 2 * time.Second
	defaultStateDir       = "/run/stasis"
)

// objects is every object of the example manifests, strictly decoded, by kind.
type objects struct {
	namespaces  map[string]*corev1.Namespace
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	services    []*corev1.Service
}

// newObject returns an empty typed object for a manifest's apiVersion and kind.
func newObject(apiVersion, kind string) (runtime.Object, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	}
	return nil, fmt.Errorf("no type for apiVersion %q kind %q in this test", apiVersion, kind)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func load(t *testing.T) *objects {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests here: %v", err)
	}
	o := &objects{namespaces: map[string]*corev1.Namespace{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(data), -1) {
			if len(bytes.TrimSpace(stripComments([]byte(doc)))) == 0 {
				continue
			}
			if err := o.add([]byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", file, i+1, err)
			}
		}
	}
	return o
}

func (o *objects) add(doc []byte) error {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	obj, err := newObject(meta.APIVersion, meta.Kind)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", meta.Kind, err)
	}
	switch v := obj.(type) {
	case *corev1.Namespace:
		o.namespaces[v.Name] = v
	case *appsv1.Deployment:
		o.deployments = append(o.deployments, v)
	case *batchv1.Job:
		o.jobs = append(o.jobs, v)
	case *corev1.Service:
		o.services = append(o.services, v)
	}
	return nil
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// TestManifestsDecodeStrictly: every document is a known API object with no unknown or
// duplicated field, and the example has what it promises.
func TestManifestsDecodeStrictly(t *testing.T) {
	o := load(t)
	if len(o.deployments) != 1 || len(o.jobs) != 1 || len(o.services) != 1 {
		t.Fatalf("want one Deployment, one Job and one Service, got %d, %d, %d",
			len(o.deployments), len(o.jobs), len(o.services))
	}
}

// TestStrictDecodingRejectsUnknownFields keeps the check honest: a misspelt field fails.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	o := &objects{namespaces: map[string]*corev1.Namespace{}}
	bad := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n"
	if err := o.add([]byte(bad)); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("a Deployment with spec.replica decoded without the error naming it: %v", err)
	}
}

func envOf(c corev1.Container, name, def string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return def
}

func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("bad duration %q: %v", s, err)
	}
	return d
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }

// TestProbesOutlastARestoreAndItsFallback: a hung restore is given up after
// STASIS_RESTORE_TIMEOUT and the JVM starts cold; the startup probe's budget must cover both,
// or the kubelet kills the Pod before the fallback can bring it up. Every exec probe's
// timeout must be above `stasis healthcheck`'s own, so stasis answers first.
func TestProbesOutlastARestoreAndItsFallback(t *testing.T) {
	for _, d := range load(t).deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			restore := duration(t, envOf(c, "STASIS_RESTORE_TIMEOUT", defaultRestoreTimeout.String()))
			health := duration(t, envOf(c, "STASIS_HEALTH_TIMEOUT", defaultHealthTimeout.String()))
			p := c.StartupProbe
			if p == nil {
				t.Errorf("%s/%s: no startupProbe", d.Name, c.Name)
				continue
			}
			budget := seconds(p.InitialDelaySeconds) + seconds(p.PeriodSeconds)*time.Duration(p.FailureThreshold)
			if budget <= restore+coldStart {
				t.Errorf("%s/%s: startup budget %v is not above STASIS_RESTORE_TIMEOUT %v plus a cold start %v",
					d.Name, c.Name, budget, restore, coldStart)
			}
			for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
				if p == nil || p.Exec == nil {
					t.Errorf("%s/%s: %sProbe does not run stasis healthcheck", d.Name, c.Name, name)
					continue
				}
				if !slices.Equal(p.Exec.Command, []string{"/stasis", "healthcheck"}) {
					t.Errorf("%s/%s: %sProbe runs %q, want /stasis healthcheck", d.Name, c.Name, name, p.Exec.Command)
				}
				timeout := max(seconds(p.TimeoutSeconds), time.Second) // the API's default is 1s
				if timeout <= health {
					t.Errorf("%s/%s: %sProbe timeout %v is not above STASIS_HEALTH_TIMEOUT %v", d.Name, c.Name, name, timeout, health)
				}
			}
		}
	}
}

// TestRestoreRunsOnAReadOnlyRoot: the root filesystem is read-only (the image directory with
// it) and everything a restore writes goes to STASIS_STATE_DIR, an emptyDir; /tmp is one too,
// where CRIU binds the JVM's attach socket again.
func TestRestoreRunsOnAReadOnlyRoot(t *testing.T) {
	for _, d := range load(t).deployments {
		spec := d.Spec.Template.Spec
		emptyDirs := map[string]bool{}
		for _, v := range spec.Volumes {
			if v.EmptyDir != nil {
				emptyDirs[v.Name] = true
			}
		}
		for _, c := range spec.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s/%s: readOnlyRootFilesystem is not true", d.Name, c.Name)
			}
			for _, dir := range []string{envOf(c, "STASIS_STATE_DIR", defaultStateDir), "/tmp"} {
				ok := false
				for _, m := range c.VolumeMounts {
					ok = ok || (m.MountPath == dir && emptyDirs[m.Name] && !m.ReadOnly)
				}
				if !ok {
					t.Errorf("%s/%s: no writable emptyDir mounted at %s", d.Name, c.Name, dir)
				}
			}
		}
	}
}

// buildCapabilities reads the --cap-add flags of the Job's podman build: the capabilities the
// checkpoint step adds to the build's defaults.
func buildCapabilities(t *testing.T, j *batchv1.Job) (caps []string, unconfined bool) {
	t.Helper()
	script := strings.Join(j.Spec.Template.Spec.Containers[0].Command, " ")
	if !strings.Contains(script, "podman build") {
		t.Fatalf("job %s does not run podman build: %q", j.Name, script)
	}
	for _, m := range regexp.MustCompile(`--cap-add[= ]([A-Z_]+)`).FindAllStringSubmatch(script, -1) {
		caps = append(caps, m[1])
	}
	return caps, strings.Contains(script, "seccomp=unconfined")
}

// measuredCheckpoint is the criu engine's measured checkpoint set beyond the defaults
// (README.md of the repository, "Least privilege"): CHECKPOINT_RESTORE always, SYS_PTRACE only
// on nodes where Yama's ptrace_scope is 1 or 2.
var measuredCheckpoint = []string{"CHECKPOINT_RESTORE", "SYS_PTRACE"}

// TestCapabilitiesPerPhase: the checkpoint step gets CHECKPOINT_RESTORE and nothing beyond the
// measured set, without a seccomp filter, and the Job's own Pod has no filter either (the RUN
// step inherits it); the restore adds exactly the capabilities the checkpoint step added (CRIU
// gives the JVM back those it had and fails where one is missing; more would exceed the
// measured set), keeps the default seccomp profile, no privileged mode, no privilege
// escalation; and both run on the same node pool, since the image holds code compiled for
// the build node's CPU.
func TestCapabilitiesPerPhase(t *testing.T) {
	o := load(t)
	job, dep := o.jobs[0], o.deployments[0]
	built, unconfined := buildCapabilities(t, job)
	if !slices.Contains(built, "CHECKPOINT_RESTORE") {
		t.Errorf("the checkpoint step does not add CHECKPOINT_RESTORE (adds %v)", built)
	}
	for _, c := range built {
		if !slices.Contains(measuredCheckpoint, c) {
			t.Errorf("the checkpoint step adds %s, beyond the measured set %v", c, measuredCheckpoint)
		}
	}
	if !unconfined {
		t.Error("the checkpoint step keeps a seccomp filter: CRIU cannot suspend the JVM's")
	}
	for _, c := range job.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
			t.Errorf("job %s/%s: seccomp profile is not Unconfined; its filter would reach the checkpoint step", job.Name, c.Name)
		}
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.Capabilities == nil {
			t.Fatalf("%s/%s: no capabilities", dep.Name, c.Name)
		}
		added := capNames(sc.Capabilities.Add)
		for _, want := range built {
			if !slices.Contains(added, want) {
				t.Errorf("%s/%s: the restore lacks %s, which the JVM had at the checkpoint", dep.Name, c.Name, want)
			}
		}
		for _, got := range added {
			if !slices.Contains(built, got) {
				t.Errorf("%s/%s: the restore adds %s, which the checkpoint step did not have (the measured restore set is the checkpoint's)", dep.Name, c.Name, got)
			}
		}
		if len(sc.Capabilities.Drop) > 0 {
			t.Errorf("%s/%s: drops %v; the JVM had the build's default capabilities, and a restore without one fails", dep.Name, c.Name, sc.Capabilities.Drop)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s/%s: privileged", dep.Name, c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: allowPrivilegeEscalation is not false", dep.Name, c.Name)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s/%s: seccomp profile is not RuntimeDefault", dep.Name, c.Name)
		}
	}
	if !reflect.DeepEqual(job.Spec.Template.Spec.Affinity, dep.Spec.Template.Spec.Affinity) || dep.Spec.Template.Spec.Affinity == nil {
		t.Error("the Job and the Deployment do not require the same node pool (affinity)")
	}
}

func capNames(cs []corev1.Capability) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c))
	}
	return out
}

// baselineCaps are the capabilities the Pod Security Standards' baseline level allows to add
// (kubernetes/website content/en/docs/concepts/security/pod-security-standards.md).
var baselineCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// levelNeeded is the lowest Pod Security level a Pod spec passes, as far as the fields these
// manifests use go: privileged mode, added capabilities, an unconfined seccomp profile.
func levelNeeded(spec corev1.PodSpec) string {
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil {
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			return "privileged"
		}
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
			return "privileged"
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if !slices.Contains(baselineCaps, string(c)) {
					return "privileged"
				}
			}
		}
	}
	return "baseline"
}

// TestPodSecurityLevel: each namespace enforces the level its Pods need, so they are admitted,
// and no namespace is more permissive than that.
func TestPodSecurityLevel(t *testing.T) {
	o := load(t)
	check := func(kind, name, ns string, spec corev1.PodSpec) {
		n, ok := o.namespaces[ns]
		if !ok {
			t.Errorf("%s %s: its namespace %q is not in the manifests", kind, name, ns)
			return
		}
		want := levelNeeded(spec)
		if got := n.Labels["pod-security.kubernetes.io/enforce"]; got != want {
			t.Errorf("namespace %s enforces %q; %s %s needs %q", ns, got, kind, name, want)
		}
	}
	for _, d := range o.deployments {
		check("Deployment", d.Name, d.Namespace, d.Spec.Template.Spec)
	}
	for _, j := range o.jobs {
		check("Job", j.Name, j.Namespace, j.Spec.Template.Spec)
	}
}
