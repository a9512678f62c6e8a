package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CRIU's kernel probe ("kerndat") takes about half of a plain `criu
// restore` (48 of 96 ms measured on the demo service). CRIU caches it, but
// the cache is only as right as its file is fresh, and CRIU keeps it fresh
// only by where it writes it (checkpoint-restore/criu criu/kerndat.c):
//
//   - get_kerndat_filename(): as root the file is KDAT_RUNDIR/criu.kdat
//     (/run/criu.kdat, a path fixed when CRIU is built); with --unprivileged
//     it is $XDG_RUNTIME_DIR/criu.kdat. No option names another path.
//   - kerndat_save_cache(): written only when the file is on a tmpfs, "because
//     the file should be gone after reboot". A container's /run rarely is.
//   - kerndat_try_load_cache(): trusted when it has the size of struct
//     kerndat_s and its two magic numbers. Nothing else is checked: not the
//     kernel, the boot, the capabilities, or the CRIU that wrote it.
//   - kerndat_init(): a loaded cache skips every probe except those of
//     kerndat_try_load_new() (hugetlb devices, rseq, shadow stacks).
//
// What the file holds (criu/include/kerndat.h struct kerndat_s) depends on
// the boot (device numbers of the shmem and hugetlb mounts, the zero page's
// PFN, the vDSO's symbols, the LSM), on sysctls (fs/nr_open,
// vm/mmap_min_addr), on the caller's credentials (the pagemap's PFNs need
// CAP_SYS_ADMIN, TCP repair CAP_NET_ADMIN; --unprivileged skips the probes of
// root_only_init()), on what the caller's seccomp filter lets through
// (clone3, pidfd_open, kcmp...: kdat_probe_linux.go), on the network
// namespace (IPv6), on the container's iptables binary, and on the CRIU
// build (the struct's layout).
//
// So stasis keeps its own copy in the image directory, with a key made of all
// of those (kdatKey), and points CRIU at it through the one door CRIU has:
// --unprivileged and XDG_RUNTIME_DIR. A key that differs in anything means a
// full probe; a restore that fails with the cache is retried once with a
// full probe (ErrKdatCache). The checkpoint run makes the cache after its
// dump (MakeKdat): `criu check --unprivileged` with XDG_RUNTIME_DIR on a
// tmpfs, so that CRIU writes it, then copied beside the image.

// KdatName is CRIU's cache file name inside XDG_RUNTIME_DIR.
const KdatName = "criu.kdat"

// kdatKeyName holds the key the cache was made under.
const kdatKeyName = "key"

// ErrKdatCache marks a restore that failed while CRIU used stasis's kerndat
// cache: the supervisor retries it once with a full probe.
var ErrKdatCache = errors.New("criu used stasis's kerndat cache")

// kdatFiles are read into the key: what the cache's content depends on that
// can change without CRIU noticing.
var kdatFiles = []string{
	"/proc/sys/kernel/random/boot_id", // a reboot: devices, PFNs, vDSO, LSM
	"/proc/sys/kernel/osrelease",
	"/proc/sys/fs/nr_open",
	"/proc/sys/vm/mmap_min_addr",
	"/proc/sys/kernel/cap_last_cap",
}

// kdatKey describes everything the cache depends on, one fact a line, or
// fails when one cannot be read (then no cache is used).
func kdatKey(criu string) (string, error) {
	var b strings.Builder
	for _, f := range kdatFiles {
		v, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("kerndat cache key: %w", err)
		}
		fmt.Fprintf(&b, "%s %s\n", f, bytes.TrimSpace(v))
	}
	caps, err := procStatus("Uid:", "Gid:", "CapEff:", "CapBnd:")
	if err != nil {
		return "", err
	}
	b.WriteString(caps)
	// Not the seccomp mode and filters, but what a filter changes in the
	// cache: the answers of the probes it can turn (kdat_probe_linux.go).
	b.WriteString(kdatSyscalls())
	// The binary CRIU runs (the wrapper of scripts/install-criu execs
	// another): path, size and time of both, when it is a script.
	for _, p := range criuBinaries(criu) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("kerndat cache key: %w", err)
		}
		fmt.Fprintf(&b, "criu %s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	_, ipv6 := os.Stat("/proc/sys/net/ipv6")
	fmt.Fprintf(&b, "ipv6 %t\n", ipv6 == nil)
	ipt, _ := exec.LookPath("iptables")
	fmt.Fprintf(&b, "iptables %q\n", ipt)
	return b.String(), nil
}

// procStatus returns the named lines of /proc/self/status.
func procStatus(names ...string) (string, error) {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", fmt.Errorf("kerndat cache key: %w", err)
	}
	var b strings.Builder
	for _, l := range strings.Split(string(st), "\n") {
		for _, n := range names {
			if strings.HasPrefix(l, n) {
				b.WriteString(strings.Join(strings.Fields(l), " ") + "\n")
			}
		}
	}
	return b.String(), nil
}

// criuBinaries is the criu path, and for a wrapper script the absolute paths it
// names that exist (install-criu's runs the real binary through its loader).
func criuBinaries(criu string) []string {
	files := []string{criu}
	b, err := os.ReadFile(criu)
	if err != nil || !bytes.HasPrefix(b, []byte("#!")) || len(b) > 64<<10 {
		return files
	}
	for _, w := range strings.Fields(string(b)) {
		w = strings.Trim(w, `"'`)
		if strings.HasPrefix(w, "/") {
			if fi, err := os.Stat(w); err == nil && fi.Mode().IsRegular() {
				files = append(files, w)
			}
		}
	}
	return files
}

// kdatSub is the cache's directory for one key: base/<first 16 hex digits
// of the key's SHA-256>. Caches made under different conditions (other
// capabilities, a seccomp filter that answers CRIU's probes otherwise) live
// side by side, and one being written never replaces another being read.
func kdatSub(base, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(base, hex.EncodeToString(sum[:8]))
}

// kdatUsable returns the directory under base holding a cache made under
// the key this start computes, or why there is none: anything but the same
// key and a cache file is a full probe.
func kdatUsable(base, criu string) (string, string) {
	if base == "" {
		return "", "no image directory"
	}
	key, err := kdatKey(criu)
	if err != nil {
		return "", err.Error()
	}
	dir := kdatSub(base, key)
	old, err := os.ReadFile(filepath.Join(dir, kdatKeyName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", "none made under this kernel, boot, CRIU and privileges"
	}
	if err != nil || string(old) != key {
		return "", "made under another kernel, boot, CRIU or set of privileges"
	}
	if fi, err := os.Stat(filepath.Join(dir, KdatName)); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return "", "no cache file"
	}
	return dir, ""
}

// DropKdat removes the cache this start would use (after a restore with it
// failed): its key first, so that it is never used again half-removed.
func DropKdat(base, criu string) {
	if base == "" {
		return
	}
	if key, err := kdatKey(criu); err == nil {
		dir := kdatSub(base, key)
		_ = os.Remove(filepath.Join(dir, kdatKeyName))
		_ = os.RemoveAll(dir)
	}
}

// MakeKdat has CRIU probe the kernel once and keeps the result under base
// for this start's key: `criu check --unprivileged` with XDG_RUNTIME_DIR on
// a tmpfs (CRIU saves its cache nowhere else), then copied. The key is
// computed before the probe and again after it: a change in between keeps
// nothing. Caches of earlier boots go.
func MakeKdat(ctx context.Context, h Host, criu, base string) error {
	key, err := kdatKey(criu)
	if err != nil {
		return err
	}
	b, err := probeKdat(ctx, h, criu, base)
	if err != nil {
		return err
	}
	if again, err := kdatKey(criu); err != nil || again != key {
		return errors.New("the kerndat cache key changed during the probe")
	}
	return storeKdat(base, criu, b)
}

// storeKdat writes a cache CRIU made under base, for this start's key.
func storeKdat(base, criu string, b []byte) error {
	key, err := kdatKey(criu)
	if err != nil {
		return err
	}
	pruneKdat(base, key)
	dir := kdatSub(base, key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kerndat cache: %w", err)
	}
	_ = os.Remove(filepath.Join(dir, kdatKeyName))
	if err := writeAtomic(filepath.Join(dir, KdatName), b); err != nil {
		return err
	}
	// The key last: a cache without it is never used.
	return writeAtomic(filepath.Join(dir, kdatKeyName), []byte(key))
}

// keepKdat stores the cache CRIU saved in fresh (a restore's tmpfs
// XDG_RUNTIME_DIR) under base for this start's key, where base is writable.
func keepKdat(base, criu, fresh string) error {
	b, err := os.ReadFile(filepath.Join(fresh, KdatName))
	if err != nil {
		return err
	}
	return storeKdat(base, criu, b)
}

// probeKdat runs `criu check --unprivileged` with XDG_RUNTIME_DIR on a
// tmpfs and returns the cache CRIU wrote there.
func probeKdat(ctx context.Context, h Host, criu, base string) ([]byte, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("kerndat cache: %w", err)
	}
	tmp, err := os.MkdirTemp(tmpfsDir(base), ".stasis-kdat-")
	if err != nil {
		return nil, fmt.Errorf("make a tmpfs directory for CRIU's kerndat cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(criu, "check", "--unprivileged", "-o", filepath.Join(tmp, "check.log"))
	cmd.Env = append(withoutXDG(os.Environ()), "XDG_RUNTIME_DIR="+tmp)
	p, err := h.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start criu check: %w", err)
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		killWait(p)
		return nil, ctx.Err()
	}
	b, err := os.ReadFile(filepath.Join(tmp, KdatName))
	if err != nil {
		return nil, fmt.Errorf("criu check wrote no kerndat cache: %w", err)
	}
	return b, nil
}

// pruneKdat removes the caches under base made in another boot: they can
// never be used again.
func pruneKdat(base, key string) {
	boot, _, _ := strings.Cut(key, "\n") // the key's first line: the boot id
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		dir := filepath.Join(base, e.Name())
		old, err := os.ReadFile(filepath.Join(dir, kdatKeyName))
		if e.IsDir() && err == nil && !strings.HasPrefix(string(old), boot+"\n") {
			_ = os.RemoveAll(dir)
		}
	}
}

// tmpfsDir is dir itself when it is on a tmpfs, else /dev/shm (a tmpfs in
// Docker, Podman and Kubernetes containers alike).
func tmpfsDir(dir string) string {
	if onTmpfs(dir) {
		return dir
	}
	return "/dev/shm"
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install %s: %w", path, err)
	}
	return nil
}

// withoutXDG is env without XDG_RUNTIME_DIR: a CRIU with --unprivileged
// loads $XDG_RUNTIME_DIR/criu.kdat unchecked, so only stasis's own, checked
// cache directory may be named there.
func withoutXDG(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "XDG_RUNTIME_DIR=") {
			out = append(out, e)
		}
	}
	return out
}
