package supervisor

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"stasis/pidspace"
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// RestoreInput is what the restorability check compares an image with:
// the start that would restore it, on this host.
type RestoreInput struct {
	Dir      string
	Manifest *image.Manifest // as image.Read returned it; nil with ReadErr
	ReadErr  error
	// Engine is this start's engine; with FromImage (STASIS_ENGINE=auto),
	// or none, the image's manifest names it (a Warp image restores with
	// warp even where crac would be detected).
	Engine    engine.Engine
	FromImage bool
	Command   []string
	Environ   map[string]string
	EnvMatch  []string // STASIS_RESTORE_ENV_MATCH
	CRIU      string   // the criu binary stasis runs, "" when none was found
	// JVMCRIU finds the criu that a JVM which runs CRIU itself (crac) will
	// use; nil leaves it to the JVM, as the restore does: the JDK says
	// so itself, and a guess at its rules must not refuse a restore.
	JVMCRIU func() (string, error)
	Runtime string // the container engine, for the fix lines (engine.DetectRuntime)
	// ChecksumsDuringCRIU: where stasis runs CRIU, only the sizes are
	// checked here and the checksums while CRIU restores
	// (STASIS_RESTORE_CHECKSUMS=during); not with All.
	ChecksumsDuringCRIU bool
	// All runs every check whatever failed before (inspect, the doctor);
	// the restore stops at the first failure, so a refused image costs no
	// checksums.
	All bool
}

// Restorability is the check's answer: each check with its verdict, in
// the order the restore makes them, cheap ones first.
type Restorability struct {
	Engine engine.Engine // the engine that restores the image; nil when the image and this start disagree on it
	Checks []image.Check
	// EnvDiff names the variables whose value differs from the
	// checkpoint's (names only: the values may be secrets).
	EnvDiff []string
}

// Err is the first failed check's error, nil when the image is restorable.
func (r *Restorability) Err() error { return FirstFailure(r.Checks) }

// FirstFailure is the error of the first failed check.
func FirstFailure(cs []image.Check) error {
	for _, c := range cs {
		if !c.OK {
			if c.Err == nil {
				return fmt.Errorf("%s: %s", c.Name, c.Detail)
			}
			return c.Err
		}
	}
	return nil
}

// Check names. "criu binary" is the executable, not the engine of that name.
const (
	CheckManifest     = "manifest"
	CheckMatch        = "match"
	CheckEnvironment  = "environment"
	CheckCPU          = "cpu"
	CheckJava         = "java"
	CheckFiles        = "files"
	CheckPID          = "pid"
	CheckCRIUBinary   = "criu binary"
	CheckCapabilities = "capabilities"
)

// CheckRestorable says whether the image can be restored here by this
// start: a manifest made for this command and engine, the environment
// STASIS_RESTORE_ENV_MATCH wants, this CPU's features, the JVM's
// executable, files that match the manifest, the JVM's PID free, criu, and
// what the engine needs of the container (the preflight). The restore,
// `stasis inspect` and the doctor all ask it, so they cannot disagree, but
// for what only inspect and the doctor look at: every checksum where the
// restore leaves them to CRIU's time, and the criu a CRaC JVM will find
// (JVMCRIU), where the restore lets the JVM say.
func CheckRestorable(in RestoreInput) *Restorability {
	r := &Restorability{}
	m := in.Manifest
	if in.ReadErr != nil || m == nil {
		err := in.ReadErr
		if err == nil {
			err = image.ErrNoImage
		}
		r.fail(CheckManifest, err)
		return r
	}
	r.pass(CheckManifest, fmt.Sprintf("format %d, written by stasis %s", m.Format, m.StasisVersion))
	eng := in.Engine
	if in.FromImage || eng == nil {
		eng = engine.New(m.Engine)
	}
	if eng == nil {
		r.fail(CheckMatch, fmt.Errorf("the image names an unknown engine %q", m.Engine))
		return r
	}
	command, compared := in.Command, " for this command"
	if command == nil {
		command, compared = m.Command, " (no command given: only the engine is compared)"
	}
	if err := m.Matches(eng.Name(), command); err != nil {
		r.fail(CheckMatch, err)
		return r // another start's image: nothing else about it matters
	}
	r.Engine = eng
	r.pass(CheckMatch, "made by engine "+eng.Name()+compared)
	for _, step := range []func(*Restorability, *image.Manifest, engine.Engine, RestoreInput) bool{
		(*Restorability).checkEnv, (*Restorability).checkCPU, (*Restorability).checkJava,
		(*Restorability).checkFiles, (*Restorability).checkPID, (*Restorability).checkCRIU,
		(*Restorability).checkCaps,
	} {
		if !step(r, m, eng, in) && !in.All {
			break
		}
	}
	return r
}

func (r *Restorability) pass(name, detail string) bool {
	r.Checks = append(r.Checks, image.Check{Name: name, OK: true, Detail: detail})
	return true
}

func (r *Restorability) fail(name string, err error) bool {
	r.Checks = append(r.Checks, image.Check{Name: name, Detail: err.Error(), Err: err})
	return false
}

// checkEnv refuses the restore when a variable named in
// STASIS_RESTORE_ENV_MATCH differs from the checkpoint's.
func (r *Restorability) checkEnv(m *image.Manifest, eng engine.Engine, in RestoreInput) bool {
	diff, known := m.EnvDiff(in.Environ)
	if !known {
		if len(in.EnvMatch) > 0 {
			return r.fail(CheckEnvironment, &EnvChangedError{})
		}
		return r.pass(CheckEnvironment, "the image records no environment (an older stasis made it)")
	}
	r.EnvDiff = diff
	var must []string
	for _, name := range in.EnvMatch {
		if slices.Contains(diff, name) {
			must = append(must, name)
		}
	}
	if len(must) > 0 {
		return r.fail(CheckEnvironment, &EnvChangedError{Names: must})
	}
	if len(diff) == 0 {
		return r.pass(CheckEnvironment, "as at the checkpoint")
	}
	return r.pass(CheckEnvironment, strings.Join(diff, ", ")+" differ from the checkpoint's: "+envSeen(eng))
}

// envSeen says which values the restored JVM sees.
func envSeen(eng engine.Engine) string {
	if eng.RestoreSeesNewEnv() {
		return "the restored JVM sees this start's values (" + eng.Name() + " hands them over)"
	}
	return "the restored JVM keeps the checkpoint's values"
}

// checkCPU: the runtime does not compare CPU features (CRaC does, with
// --cpu-cap=none and its own check): a JIT's code for a missing feature
// would crash later with SIGILL.
func (r *Restorability) checkCPU(m *image.Manifest, eng engine.Engine, _ RestoreInput) bool {
	if m.CPU == nil {
		return true // recorded by no stasis yet, or an architecture stasis does not read
	}
	if !eng.Facts().CPUBound {
		return r.pass(CheckCPU, "the "+eng.Name()+" runtime checks the CPU's features itself at restore")
	}
	host, err := image.HostCPU()
	if err == nil {
		err = m.CheckCPU(host)
	}
	if err != nil {
		return r.fail(CheckCPU, err)
	}
	return r.pass(CheckCPU, fmt.Sprintf("%s: all %d features the image was made with are present", m.CPU.Arch, len(m.CPU.Features)))
}

func (r *Restorability) checkJava(m *image.Manifest, _ engine.Engine, _ RestoreInput) bool {
	if m.Java == "" {
		return true // not a java command (the criu engine checkpoints any process)
	}
	if _, err := os.Stat(m.Java); err != nil {
		return r.fail(CheckJava, fmt.Errorf("the JVM's executable is missing: %w", err))
	}
	return r.pass(CheckJava, m.Java)
}

// checkFiles: sizes first (a truncated file can hang CRIU's restorer),
// then the checksums, unless they run during CRIU's restore
// (engine/hold.go), where stasis runs CRIU.
func (r *Restorability) checkFiles(m *image.Manifest, eng engine.Engine, in RestoreInput) bool {
	if in.ChecksumsDuringCRIU && eng.FIFOStdio() && !in.All {
		if err := m.VerifySizes(in.Dir); err != nil {
			return r.fail(CheckFiles, err)
		}
		return r.pass(CheckFiles, fmt.Sprintf("%d files, %s, sizes match (the checksums run during the restore)", len(m.Files), image.Megabytes(m.ImageBytes)))
	}
	if err := m.Verify(in.Dir); err != nil {
		return r.fail(CheckFiles, err)
	}
	return r.pass(CheckFiles, fmt.Sprintf("%d files, %s, sizes and checksums match", len(m.Files), image.Megabytes(m.ImageBytes)))
}

func (r *Restorability) checkPID(m *image.Manifest, eng engine.Engine, _ RestoreInput) bool {
	if !eng.Facts().PreservesPIDs {
		return true
	}
	free, who, err := pidspace.Holder(m.PID)
	switch {
	case err != nil:
		return r.fail(CheckPID, fmt.Errorf("cannot tell whether the JVM's pid %d is free: %w", m.PID, err))
	case !free:
		return r.fail(CheckPID, fmt.Errorf("the JVM's pid %d is taken: %s", m.PID, who))
	}
	return r.pass(CheckPID, fmt.Sprintf("pid %d is free", m.PID))
}

func (r *Restorability) checkCRIU(_ *image.Manifest, eng engine.Engine, in RestoreInput) bool {
	switch eng.Facts().CRIU {
	case engine.CRIUByStasis:
		if in.CRIU == "" {
			return r.fail(CheckCRIUBinary, errNoCRIU)
		}
		return r.pass(CheckCRIUBinary, in.CRIU)
	case engine.CRIUByJVM:
		if in.JVMCRIU == nil {
			return true
		}
		p, err := in.JVMCRIU()
		if err != nil {
			return r.fail(CheckCRIUBinary, err)
		}
		return r.pass(CheckCRIUBinary, p)
	}
	return true // e.g. Warp needs no criu
}

func (r *Restorability) checkCaps(m *image.Manifest, eng engine.Engine, in RestoreInput) bool {
	if err := preflight(eng, engine.PhaseRestore, m, in.Command, in.Runtime, in.CRIU); err != nil {
		return r.fail(CheckCapabilities, err)
	}
	return r.pass(CheckCapabilities, "the container has what the "+eng.Name()+" restore needs")
}
