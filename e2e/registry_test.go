package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// registry is a docker-registry (Debian's packaging of the distribution registry) serving on
// the loopback address from a scratch directory, with a configuration file of its own.
type registry struct {
	addr string // 127.0.0.1:PORT
}

// startRegistry runs a registry for the test and stops it when the test ends. It skips when
// the docker-registry command is missing.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("no docker-registry command on PATH (scripts/install-deps installs it)")
	}
	dir := t.TempDir()
	r := &registry{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), r.addr)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", path)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := waitAnswer("http://"+r.addr+"/v2/", 30*time.Second); err != nil {
		t.Fatalf("docker-registry on %s: %v; its output:\n%s", r.addr, err, out.String())
	}
	return r
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// descriptor is an OCI or Docker v2 content descriptor.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// fetch GETs a registry path, accepting the manifest formats podman pushes.
func (r *registry) fetch(path string) ([]byte, error) {
	req, err := http.NewRequest("GET", "http://"+r.addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, nil
}

// TestRegistryRoundTrip pushes the image built with the checkpoint step to a real registry,
// checks what the registry holds (every layer's digest and size as the manifest says, no FIFO
// or socket in any layer, the image directory's modes), removes the image locally, pulls it
// back, checks that the image directory came back byte for byte with its modes and that the
// stasis manifest's checksums hold, and restores from the pulled image.
func TestRegistryRoundTrip(t *testing.T) {
	f := podmanSetup(t)
	reg := startRegistry(t)
	before := exportTree(t, f, f.image)

	ref := fmt.Sprintf("%s/%s:1", reg.addr, prefix+"-roundtrip")
	repo := strings.TrimSuffix(strings.TrimPrefix(ref, reg.addr+"/"), ":1")
	digestFile := filepath.Join(t.TempDir(), "digest")
	for _, args := range [][]string{
		{"tag", f.image, ref},
		{"push", "--tls-verify=false", "--digestfile", digestFile, ref},
	} {
		if _, err := podman(args...); err != nil {
			t.Fatal(err)
		}
	}
	pushed, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatal(err)
	}

	checkRegistryLayers(t, reg, repo, strings.TrimSpace(string(pushed)))

	// Remove every local name of the image, so the pull has to fetch its layers, and the
	// fixture's name is given back to the pulled image for the other tests.
	if _, err := podman("rmi", "-f", ref, f.image); err != nil {
		t.Fatal(err)
	}
	if _, err := podman("pull", "--tls-verify=false", ref); err != nil {
		t.Fatal(err)
	}
	if _, err := podman("tag", ref, f.image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", ref).Run() })
	if got, _ := podman("image", "inspect", "--format", "{{.Digest}}", ref); strings.TrimSpace(got) != strings.TrimSpace(string(pushed)) {
		t.Errorf("pulled image's digest %s, pushed %s", strings.TrimSpace(got), pushed)
	}

	after := exportTree(t, f, ref)
	compareCheckpoint(t, before, after)
	checkManifestChecksums(t, after)
	restoreRun(t, f, ref)
}

// checkRegistryLayers reads the pushed manifest from the registry and every layer it names:
// each blob's SHA-256 and size must be the descriptor's, and no layer may hold a FIFO or a
// device node outside dev/ (tar has no type for sockets: a layer drops them). The
// image directory's files must be private to their owner (the image holds the JVM's memory).
func checkRegistryLayers(t *testing.T, reg *registry, repo, digest string) {
	t.Helper()
	raw, err := reg.fetch("/v2/" + repo + "/manifests/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("manifest of %s: %v\n%s", digest, err, raw)
	}
	if got := "sha256:" + sha256Hex(raw); got != digest {
		t.Errorf("the registry's manifest hashes to %s, podman pushed %s", got, digest)
	}
	var special []string
	modes := map[string]int64{}
	for _, l := range m.Layers {
		special = append(special, readLayer(t, reg, repo, l, modes)...)
	}
	if len(special) > 0 {
		t.Errorf("the pushed layers hold FIFOs or device nodes: %v", special)
	}
	if len(modes) == 0 {
		t.Fatal("no layer holds the image directory checkpoint/")
	}
	// stasis makes the image directory (and the directories of its kernel-probe cache)
	// 0700 and every file in it 0600 (it holds the JVM's memory); anything else, grouped by
	// mode (an image has dozens of files), came from elsewhere or was changed on the way.
	if mode, ok := modes["checkpoint/"]; !ok || mode != 0o700 {
		t.Errorf("the image directory checkpoint/ in the pushed image has mode %04o (present %v), want 0700", mode, ok)
	}
	loose := map[int64][]string{}
	for name, mode := range modes {
		want := int64(0o600)
		if strings.HasSuffix(name, "/") {
			want = 0o700
		}
		if mode != want {
			loose[mode] = append(loose[mode], name)
		}
	}
	for mode, names := range loose {
		sort.Strings(names)
		t.Errorf("the image directory's files must be 0600 and its directories 0700 in the pushed image (they hold the JVM's memory): %d with mode %04o: %s",
			len(names), mode, strings.Join(names[:min(len(names), 4)], ", "))
	}
}

// readLayer downloads one layer, checks its digest and size, records the modes of the image
// directory's entries, and returns the special files it holds.
func readLayer(t *testing.T, reg *registry, repo string, l descriptor, modes map[string]int64) []string {
	t.Helper()
	blob, err := reg.fetch("/v2/" + repo + "/blobs/" + l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := "sha256:" + sha256Hex(blob); got != l.Digest || int64(len(blob)) != l.Size {
		t.Fatalf("layer %s: the registry served %d bytes hashing to %s, the manifest says %d bytes", l.Digest, len(blob), got, l.Size)
	}
	var r io.Reader = bytes.NewReader(blob)
	if strings.Contains(l.MediaType, "gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		r = zr
	}
	var special []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return special
		}
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		name := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		// A base root filesystem has its device nodes in dev/; anywhere else, and a FIFO
		// anywhere, they come from a run that made them on the build host.
		switch {
		case h.Typeflag == tar.TypeFifo,
			(h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock) && !strings.HasPrefix(name, "dev/"):
			special = append(special, fmt.Sprintf("%s (type %c)", name, h.Typeflag))
		}
		if name == "checkpoint" || strings.HasPrefix(name, "checkpoint/") {
			if h.Typeflag == tar.TypeDir {
				name += "/" // directories are told apart from files by the slash
			}
			modes[name] = h.Mode & 0o7777
		}
	}
}

// compareCheckpoint: the image directory after the pull is the one before the push, entry for
// entry: type, mode, owner, size and content.
func compareCheckpoint(t *testing.T, before, after map[string]entry) {
	t.Helper()
	n := 0
	for name, b := range before {
		if name != "checkpoint" && !strings.HasPrefix(name, "checkpoint/") {
			continue
		}
		n++
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("%s is missing after the pull", name)
		case a.String() != b.String():
			t.Errorf("%s changed in the round trip: %s, was %s", name, a, b)
		case string(a.content) != string(b.content):
			t.Errorf("%s: content changed in the round trip", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && strings.HasPrefix(name, "checkpoint/") {
			t.Errorf("%s appeared in the round trip", name)
		}
	}
	if n < 3 {
		t.Fatalf("the image directory has %d entries before the push; no checkpoint in the image?", n)
	}
}

// checkManifestChecksums verifies stasis.json in the pulled image: every file it lists is
// there with its size and CRC-32C (Castagnoli), as stasis checks before a restore.
func checkManifestChecksums(t *testing.T, tree map[string]entry) {
	t.Helper()
	var m struct {
		Files []struct {
			Name   string `json:"name"`
			Size   int64  `json:"size"`
			CRC32C string `json:"crc32c"`
		} `json:"files"`
	}
	if err := json.Unmarshal(tree["checkpoint/stasis.json"].content, &m); err != nil || len(m.Files) == 0 {
		t.Fatalf("stasis.json in the pulled image: %v (%d files)", err, len(m.Files))
	}
	table := crc32.MakeTable(crc32.Castagnoli)
	for _, f := range m.Files {
		e, ok := tree["checkpoint/"+f.Name]
		if !ok {
			t.Errorf("stasis.json lists %s, missing from the pulled image", f.Name)
			continue
		}
		got := fmt.Sprintf("%08x", crc32.Checksum(e.content, table))
		if e.size != f.Size || got != f.CRC32C {
			t.Errorf("%s in the pulled image: %d bytes, crc32c %s; stasis.json says %d bytes, %s", f.Name, e.size, got, f.Size, f.CRC32C)
		}
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
