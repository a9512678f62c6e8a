package supervisor

import (
	"stasis/supervisor/engine"
	"stasis/supervisor/image"
)

// ForeseeInput are the settings of a start that `stasis inspect` and the
// doctor ask about, with the engine resolved (engine.Resolve).
type ForeseeInput struct {
	Mode             string
	NoTrigger        bool
	OnRestoreFailure string
	Dir              string
	Resolution       *engine.Resolution
	// Command is the container's command, compared with the image's; nil
	// compares only the engine (inspect without a command).
	Command  []string
	Environ  map[string]string
	EnvMatch []string
}

// Foresight is what such a start would do here, found without starting
// anything: the image, every restorability check (checksums in full), and
// the plan with them.
type Foresight struct {
	Resolution *engine.Resolution
	Manifest   *image.Manifest
	ImageErr   error
	Restore    *Restorability
	Decision   Decision
}

// Foresee gathers the facts (the image directory, this host) and asks
// CheckRestorable and Plan, as a start would. It does not build the
// checkpoint's command line, which may start the JDK: a command the engine
// cannot launch shows at the start.
func Foresee(in ForeseeInput) *Foresight {
	f := &Foresight{Resolution: in.Resolution}
	f.Manifest, f.ImageErr = image.Read(in.Dir)
	res := in.Resolution
	home := res.Home
	if home == "" && f.Manifest != nil {
		home = jdkHome(f.Manifest.Java)
	}
	f.Restore = CheckRestorable(RestoreInput{Dir: in.Dir, Manifest: f.Manifest, ReadErr: f.ImageErr,
		Engine: res.Engine, FromImage: res.FromImage, Command: in.Command, Environ: in.Environ, EnvMatch: in.EnvMatch,
		CRIU: res.CRIU, Runtime: engine.DetectRuntime(in.Environ), All: true,
		JVMCRIU: func() (string, error) {
			return engine.FindCRaCCRIU(in.Command, home, func(k string) string { return in.Environ[k] })
		}})
	f.Decision = Plan(PlanInput{Mode: in.Mode, NoTrigger: in.NoTrigger, OnRestoreFailure: in.OnRestoreFailure,
		ImageDir: in.Dir, ImageErr: f.ImageErr, EngineErr: cannotCheckpoint(res.Engine, res.Err), Checks: f.Restore.Checks})
	return f
}

// jdkHome is the JDK home of the image's java, where older CRaC JDKs ship
// their criu.
func jdkHome(java string) string {
	if java == "" {
		return ""
	}
	home, _ := engine.HomeOf(java)
	return home
}
