// Package image owns the image directory's manifest, stasis.json: what was
// checkpointed, how, and the list of image files with their sizes and
// checksums. The manifest is written atomically and last, after a verified
// checkpoint, and removed first when a new checkpoint starts, so a directory
// with a manifest whose files match it is a complete image, and nothing else
// is ever trusted.
//
// It must not import supervisor or the engines.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ManifestName is the manifest's file name inside the image directory.
const ManifestName = "stasis.json"

// Format is the manifest's format version; a newer one is not restorable.
const Format = 1

// Manifest describes a complete image. The JSON names are stable: tools and
// `stasis inspect --json` rely on them.
type Manifest struct {
	Format        int       `json:"format"`
	StasisVersion string    `json:"stasis_version"`
	Engine        string    `json:"engine"`
	Java          string    `json:"java"`
	JavaVersion   string    `json:"java_version,omitempty"`
	Command       []string  `json:"command"`
	PID           int       `json:"pid"`
	Created       time.Time `json:"created"`
	Phases        Phases    `json:"phases"`
	ImageBytes    int64     `json:"image_bytes"`
	Files         []File    `json:"files"`
	// Env names every environment variable of the checkpoint run, each
	// with a keyed hash of its value (env.go); EnvSalt is the key.
	Env     map[string]string `json:"env,omitempty"`
	EnvSalt string            `json:"env_salt,omitempty"`

	// StdioPipes are the inodes of the pipes that were the JVM's stdout and
	// stderr at checkpoint: a restore by criu hands new pipes in their place
	// (--inherit-fd), so no stdio lives in the image directory.
	StdioPipes *StdioPipes `json:"stdio_pipes,omitempty"`

	// JVMCapabilities is the JVM's permitted capability set at checkpoint
	// (names without CAP_): CRIU gives them back at restore, so a restoring
	// container needs every one.
	JVMCapabilities []string `json:"jvm_capabilities,omitempty"`

	// LaunchFlags are the flags the engine added to the command at the
	// checkpoint run (crac: the pinned engine), so that a restore needs no
	// probe of the JDK.
	LaunchFlags []string `json:"launch_flags,omitempty"`
	// CPU is the checkpoint host's processor (cpu.go); nil in images from
	// before it was recorded.
	CPU *CPU `json:"cpu,omitempty"`
}

// StdioPipes names the JVM's stdout and stderr pipes as CRIU's image does:
// "pipe:[INODE]".
type StdioPipes struct {
	Stdout uint64 `json:"stdout"`
	Stderr uint64 `json:"stderr"`
}

// Phases are the checkpoint run's durations, in milliseconds.
type Phases struct {
	LaunchToReadyMS int64 `json:"launch_to_ready_ms"`
	WarmupMS        int64 `json:"warmup_ms"`
	DumpMS          int64 `json:"dump_ms"`
}

// File is one image file: its name relative to the directory, size, and
// CRC-32C (hardware-accelerated; it detects damage, it is no signature).
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C string `json:"crc32c"`
	// Chunks are the CRC-32C of each ChunkSize bytes (chunks.go), checked
	// in parallel; absent in manifests of earlier versions.
	Chunks []string `json:"crc32c_chunks,omitempty"`
}

// castagnoli is built on first use, not at start-up: every container start
// pays for package initialisation, and most never check an image.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// notImage are names in the directory that are not part of the image: the
// manifest, logs (they grow with every restore), the stdio FIFOs (recorded by
// path, not content) and the restore pidfile.
func notImage(name string) bool {
	base := filepath.Base(name)
	return base == ManifestName || strings.HasSuffix(base, ".log") || strings.HasSuffix(base, ".fifo") ||
		strings.HasSuffix(base, ".pid") || strings.HasPrefix(base, ".")
}

// Scan lists the image files in dir with their sizes and checksums: the
// regular files directly in dir that names owns, except logs, FIFOs and the
// manifest. Other files, and subdirectories, are the user's: they are not
// part of the image.
func Scan(dir string, names Names) ([]File, int64, error) {
	var files []File
	var total int64
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("scan image %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || notImage(e.Name()) || !names.Owned(e.Name()) {
			continue
		}
		f, err := checksumChunks(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, 0, fmt.Errorf("scan image %s: %w", dir, err)
		}
		f.Name = e.Name()
		files = append(files, f)
		total += f.Size
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, total, nil
}

func checksum(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := crc32.New(castagnoli())
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", path, err)
	}
	return File{Size: n, CRC32C: fmt.Sprintf("%08x", h.Sum32())}, nil
}

// MaxManifest bounds the manifest's size: Read refuses a larger file
// without reading it, and Write never writes one. A manifest lists a few
// hundred files at most (CRIU writes a handful per thread).
const MaxManifest = 1 << 20

// Write stores m as dir/stasis.json atomically: a temporary file, fsync, and
// rename, so a crash leaves either no manifest or a whole one.
func Write(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if len(b) >= MaxManifest {
		return fmt.Errorf("write manifest in %s: %d bytes, more than the %d a manifest may have", dir, len(b), MaxManifest)
	}
	tmp, err := os.CreateTemp(dir, ".stasis.json.*")
	if err != nil {
		return fmt.Errorf("write manifest in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write manifest %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync manifest %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("install manifest in %s: %w", dir, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrNoImage says the directory holds no manifest.
var ErrNoImage = errors.New("no image")

// Read parses dir/stasis.json, reading at most MaxManifest bytes of it.
func Read(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: %w", dir, ManifestName, ErrNoImage)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxManifest))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(b) >= MaxManifest {
		return nil, fmt.Errorf("%s in %s is larger than %d bytes: not a manifest stasis wrote", ManifestName, dir, MaxManifest-1)
	}
	return Parse(b)
}

// Parse decodes and checks a manifest.
func Parse(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", ManifestName, err)
	}
	switch {
	case m.Format != Format:
		return nil, fmt.Errorf("%s has format %d, this stasis reads %d", ManifestName, m.Format, Format)
	case m.Engine == "" || len(m.Command) == 0:
		return nil, fmt.Errorf("%s lacks the engine or the command", ManifestName)
	case len(m.Files) == 0:
		return nil, fmt.Errorf("%s lists no image files", ManifestName)
	}
	for _, f := range m.Files {
		if f.Name == "" || filepath.IsAbs(f.Name) || strings.HasPrefix(filepath.Clean(f.Name), "..") || f.Size < 0 {
			return nil, fmt.Errorf("%s lists a bad file %q", ManifestName, f.Name)
		}
	}
	return &m, nil
}

// Matches says why an image made for one command and engine cannot serve
// another: a restored JVM would run the old command.
func (m *Manifest) Matches(engine string, command []string) error {
	if m.Engine != engine {
		return fmt.Errorf("the image was made by engine %s, this start uses %s", m.Engine, engine)
	}
	if !slices.Equal(m.Command, command) {
		return fmt.Errorf("the image was made for the command %q, this start runs %q", m.Command, command)
	}
	return nil
}

// Verify checks every listed file's size and checksum. Sizes come first, so
// a truncated file (which can hang CRIU's restorer) is found without reading
// the whole image.
func (m *Manifest) Verify(dir string) error {
	if err := m.VerifySizes(dir); err != nil {
		return err
	}
	return m.VerifySums(dir)
}

// VerifySizes checks that every listed file is there with its size: cheap
// (one stat a file), and enough to keep a truncated image from CRIU.
func (m *Manifest) VerifySizes(dir string) error {
	for _, f := range m.Files {
		fi, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil {
			return fmt.Errorf("image file %s: %w", f.Name, err)
		}
		if fi.Size() != f.Size {
			return fmt.Errorf("image file %s has %d bytes, the manifest says %d", f.Name, fi.Size(), f.Size)
		}
	}
	return nil
}

// VerifySums checks every listed file's checksum, on every core.
func (m *Manifest) VerifySums(dir string) error {
	return m.VerifySumsOn(dir, runtime.GOMAXPROCS(0))
}

// VerifySumsOn is VerifySums on at most workers cores: where stasis runs
// CRIU, the checksums run while CRIU restores (and the restored JVM waits
// for their verdict before it resumes), and leave CRIU a core.
func (m *Manifest) VerifySumsOn(dir string, workers int) error {
	return verifyParallel(dir, m.Files, workers)
}

func verifyFile(dir string, f File) error {
	got, err := checksum(filepath.Join(dir, f.Name))
	if err != nil {
		return err
	}
	if got.CRC32C != f.CRC32C {
		return fmt.Errorf("image file %s is damaged (crc32c %s, the manifest says %s)", f.Name, got.CRC32C, f.CRC32C)
	}
	return nil
}

// Invalidate removes the manifest first, then the files of an earlier image
// that names owns (see Names), so that a checkpoint that fails half-way never
// leaves something that looks complete. Every other file, and every
// subdirectory, is the user's and stays; so do logs when keepLogs is set
// (after a failure, they say why).
func Invalidate(dir string, names Names, keepLogs bool) error {
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove old manifest: %w", err)
	}
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return removeOwned(dir, names, keepLogs)
}
