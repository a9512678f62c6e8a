package engine

import (
	"fmt"
	"strings"
)

// Auto is STASIS_ENGINE's value for "detect the engine from the JDK".
const Auto = "auto"

// CRIUBinary is the name of CRIU's executable, on PATH or in a JDK's lib.
const CRIUBinary = "criu"

// ResolveInput are the settings that leave the engine, criu and java open.
type ResolveInput struct {
	Engine     string // STASIS_ENGINE: an engine's name, or Auto
	CRIU       string // STASIS_CRIU; "" to look for one
	JavaHome   string // $JAVA_HOME, where a CRaC JDK may ship its criu
	Command    []string
	AppTrigger bool // STASIS_CHECKPOINT_ON=app: the JVM must checkpoint itself
}

// Resolution is what a start would use here. Err is why it cannot
// checkpoint (a start may still restore an image, or start cold).
type Resolution struct {
	Engine    Engine // nil when none could be chosen
	FromImage bool   // STASIS_ENGINE=auto: at restore, the image's manifest names the engine
	Why       string // STASIS_ENGINE=auto: why this engine was chosen
	Err       error
	// CRIU is the criu binary stasis runs (criu engine; openj9's restore),
	// looked up whatever the engine: an image may name another one.
	CRIU    string
	CRIUErr error
	// Java and Home are the command's java and its JDK; JavaErr why there
	// is none (not a java command, no java on PATH).
	Java, Home string
	JavaErr    error
	Release    Release
	// LaunchArgv is the checkpoint run's command line, once Launch built it.
	LaunchArgv []string
}

// SettingError is a setting that is wrong whatever the start does.
type SettingError struct{ Setting, Value, Problem string }

func (e *SettingError) Error() string { return fmt.Sprintf("%s=%q: %s", e.Setting, e.Value, e.Problem) }

// Resolve chooses the engine (detected for Auto), finds criu and the
// command's JDK, and says why that engine cannot checkpoint this command
// here, if it cannot. It never starts the JDK (see Launch). The
// *SettingError is a setting that cannot be right; the Resolution is filled
// all the same, for the doctor, which reports it and goes on.
func Resolve(in ResolveInput) (*Resolution, error) {
	r := &Resolution{}
	var bad error
	r.Java, r.Home, r.JavaErr = JavaHome(in.Command)
	if r.Home != "" {
		r.Release = ReadRelease(r.Home)
	}
	if in.CRIU != "" {
		// An explicit criu that is not there is a typo, whatever the mode.
		if _, err := FindCRIU(in.CRIU); err != nil {
			bad = &SettingError{Setting: "STASIS_CRIU", Value: in.CRIU, Problem: "not an executable file"}
		}
	}
	r.CRIU, r.CRIUErr = FindCRIU(in.CRIU, in.JavaHome, r.Home)
	name := in.Engine
	r.FromImage = name == Auto
	if r.FromImage {
		name, r.Why, r.Err = DetectWhy(in.Command, in.CRIU, in.JavaHome)
	}
	if f, ok := FactsOf(name); ok && f.JDK != "" && !r.FromImage && r.Home != "" && Flavour(r.Home) != f.JDK && bad == nil {
		// Named explicitly: without this, java is launched with the
		// engine's flags and fails, or a restore fails, after the start.
		bad = &SettingError{Setting: "STASIS_ENGINE", Value: in.Engine,
			Problem: fmt.Sprintf("the JDK at %s is not %s %s JDK (%s); use one, or STASIS_ENGINE=criu or auto", r.Home, article(f.JDK), f.JDK, FlavourFiles(f.JDK))}
	}
	if r.Err == nil {
		r.Err = r.choose(name, in)
	}
	return r, bad
}

// choose sets the engine and says why it cannot checkpoint the command.
func (r *Resolution) choose(name string, in ResolveInput) error {
	if r.Engine = New(name); r.Engine == nil {
		return fmt.Errorf("no checkpoint engine named %q", name)
	}
	if r.Engine.Facts().CRIU == CRIUByStasis && r.CRIUErr != nil {
		return r.CRIUErr
	}
	if err := CheckCommand(r.Engine, in.Command); err != nil {
		return err
	}
	if in.AppTrigger && !r.Engine.Facts().AppTrigger {
		return fmt.Errorf("STASIS_CHECKPOINT_ON=app needs a JVM that checkpoints itself (a CRaC or OpenJ9 JDK); this JDK gets the %s engine", name)
	}
	return nil
}

// Launch builds the checkpoint run's command line, once. LaunchArgv may
// start the JDK (crac asks it for its engine flag): the caller does this
// before the reaper owns wait4, and only when the start may checkpoint, so
// a restore never waits for it. A failure is why this start cannot
// checkpoint.
func (r *Resolution) Launch(command []string, o Options) {
	if r.Err != nil || r.Engine == nil {
		return
	}
	r.LaunchArgv, r.Err = r.Engine.LaunchArgv(command, o)
}

// CRIUFor is the criu that a start with the named engine runs: the one the
// JVM finds itself (crac, found the JDK's way, getenv giving CRAC_CRIU_PATH
// and PATH), else the one stasis runs (warp runs none; this is the one
// stasis would).
func (r *Resolution) CRIUFor(name string, command []string, getenv func(string) string) (string, error) {
	if f, _ := FactsOf(name); f.CRIU == CRIUByJVM {
		return FindCRaCCRIU(command, r.Home, getenv)
	}
	return r.CRIU, r.CRIUErr
}

// article is "an" before a vowel ("an openj9 JDK"), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
