package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"stasis/reaper"
	"stasis/triggers/attach"
)

// OpenJ9 is IBM Semeru's CRIU support: the application checkpoints itself
// through the CRIUSupport API into the directory stasis names
// (-Dstasis.imageDir), and the JVM dies with status 137 after the dump.
// stasis restores with criu directly: OpenJ9's own restoring launcher exits
// 0 whatever the application does, which would lose its exit status.
type OpenJ9 struct{}

func (*OpenJ9) Name() string       { return "openj9" }
func (*OpenJ9) FIFOStdio() bool    { return true }
func (*OpenJ9) DumpLog() string    { return "criu.log" }
func (*OpenJ9) RestoreLog() string { return "restore.log" }

// Facts: the application checkpoints itself with libcriu; stasis restores
// with criu. The capabilities are those the doctor asked for until now.
func (*OpenJ9) Facts() Facts {
	return Facts{CRIU: CRIUByStasis, JavaCommand: true, PreservesPIDs: true, AppTrigger: true, SelfTriggered: true, CPUBound: true,
		CheckpointCaps: []int{CapCheckpointRestore, CapSetpcap, CapSysPtrace},
		RestoreCaps:    []int{CapCheckpointRestore, CapSetpcap}}
}

func (e *OpenJ9) LaunchArgv(command []string, o Options) ([]string, error) {
	if err := requireJava(e.Name(), command); err != nil {
		return nil, err
	}
	return OpenJ9LaunchArgv(command, o), nil
}

// Checkpoint waits for the application's own checkpoint. When the trigger is
// not `app`, stasis asks through the attach protocol, which works only where
// the JVM answers HotSpot's JDK.checkpoint; stock OpenJ9 has its own attach
// mechanism, and the error says to use STASIS_CHECKPOINT_ON=app.
func (e *OpenJ9) Checkpoint(ctx context.Context, j *CheckpointJob) error {
	if !j.AppTriggered {
		_, err := attach.JCmd(ctx, j.JVM.Pid, "JDK.checkpoint", attach.Options{Timeout: 30 * time.Second, Log: j.Log})
		if errors.Is(err, attach.ErrOpenJ9) {
			return fmt.Errorf("OpenJ9 has no checkpoint command that stasis can send (%w): let the application checkpoint itself with STASIS_CHECKPOINT_ON=app", err)
		}
		if err != nil {
			return fmt.Errorf("JDK.checkpoint in pid %d: %w", j.JVM.Pid, err)
		}
	}
	// OpenJ9 dumps with CRIU, whose log ends in "Dumping finished
	// successfully": a JVM killed mid-dump (OOM) must not pass for a dump.
	return awaitSelfDump(ctx, j, filepath.Join(j.Dir, e.DumpLog()), true)
}

func (e *OpenJ9) Restore(ctx context.Context, j *RestoreJob) (*reaper.Process, error) {
	return criuRestore(ctx, j, e.RestoreLog())
}
