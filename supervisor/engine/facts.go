package engine

// Facts are what the rest of stasis asks an engine instead of comparing its
// name: cmd/stasis (validation, phases, inspect, doctor), the supervisor and
// the image. Each engine states its own in its file; docs/runtimes.md gives
// the runtime source of each.
type Facts struct {
	// CRIU says who runs CRIU, and so whether stasis must find a criu.
	CRIU CRIUUse
	// JavaCommand: the engine's flags go after the java executable, so the
	// command must start with it (crac, warp, openj9).
	JavaCommand bool
	// PreservesPIDs: the restored JVM has its checkpoint-time PID, which
	// must be free at restore (every engine but warp).
	PreservesPIDs bool
	// AppTrigger: the JVM can checkpoint itself (STASIS_CHECKPOINT_ON=app).
	AppTrigger bool
	// SelfTriggered: with no STASIS_CHECKPOINT_ON, the application is
	// expected to checkpoint itself (OpenJ9's CRIUSupport API).
	SelfTriggered bool
	// RestoreShm: the restoring launcher hands settings to the restored JVM
	// through POSIX shared memory (/dev/shm must be writable).
	RestoreShm bool
	// CPUBound: the image holds code compiled for the checkpoint host's CPU
	// and nothing in the runtime checks it at restore, so stasis compares
	// the CPU features itself before restoring.
	CPUBound bool
	// LibCRIU: the JVM dumps itself through libcriu.so, which runs the
	// `criu` on PATH (OpenJ9; docs/runtimes.md), so the doctor checks both.
	LibCRIU bool
	// JDK is the JDK flavour (Flavour) whose flags the engine launches
	// java with: an engine named explicitly is refused on a JDK recognised
	// as another flavour. "" when stasis does not check.
	JDK string
	// ExtraCaps are capabilities the engine needs besides CRIU's own
	// (needs.go), e.g. OpenJ9's SETPCAP: in both phases, unless DumpCaps
	// says the checkpoint's.
	ExtraCaps []int
	// DumpCaps, when set, are the capabilities the JVM's own CRIU dump
	// needs for the java command line (OpenJ9 runs CRIU privileged or
	// unprivileged as its command says), in place of CHECKPOINT_RESTORE and
	// ExtraCaps; NeedsOf adds SYS_PTRACE under Yama as for every dump.
	DumpCaps func(command []string) []int
}

// CRIUUse is who runs CRIU for an engine.
type CRIUUse int

const (
	// CRIUNone: no CRIU at all (Warp).
	CRIUNone CRIUUse = iota
	// CRIUByJVM: the JVM runs the CRIU it finds itself (CRaC: criu_location,
	// PATH, or a legacy build's lib/criu).
	CRIUByJVM
	// CRIUByStasis: stasis runs criu (criu: both phases; openj9: restore).
	CRIUByStasis
)

// CheckCommand says why an engine cannot run command, without starting
// anything (LaunchArgv may probe the JDK).
func CheckCommand(e Engine, command []string) error {
	if e.Facts().JavaCommand {
		return requireJava(e.Name(), command)
	}
	return nil
}
