package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// openJ9AttachDir is where OpenJ9 advertises itself to its own attach
// clients; it never serves HotSpot's /tmp/.java_pid<pid>.
func openJ9AttachDir() string {
	return filepath.Join("/tmp", ".com_ibm_tools_attach", strconv.Itoa(os.Getpid()))
}

// scheduleSelfCheckpoint stands in for an application calling OpenJ9's
// CRIUSupport.checkpointJVM(): after FAKE_APP_CHECKPOINT_AFTER (or
// -Dfake.checkpointAfter) it dumps itself into -Dfake.checkpointDir, else
// into -Dstasis.imageDir.
func (v *vm) scheduleSelfCheckpoint() error {
	dir := openJ9AttachDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	info := fmt.Sprintf("processId=%d\nvmId=%d\n", os.Getpid(), os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, "attachInfo"), []byte(info), 0o644); err != nil {
		return fmt.Errorf("write attachInfo: %w", err)
	}
	s := os.Getenv("FAKE_APP_CHECKPOINT_AFTER")
	if s == "" {
		s = v.prop("fake.checkpointAfter", "")
	}
	after, err := duration("FAKE_APP_CHECKPOINT_AFTER", s)
	if err != nil || after == 0 {
		return err
	}
	go func() {
		<-timeAfter(after)
		v.selfCheckpoint()
	}()
	return nil
}

func (v *vm) selfCheckpoint() {
	if !v.opts.enableCRIU {
		fmt.Fprintln(os.Stderr, "Exception in thread \"main\" java.lang.UnsupportedOperationException: CRIU support is not enabled (-XX:+EnableCRIUSupport)")
		return
	}
	// An application under stasis checkpoints into the directory stasis
	// names with -Dstasis.imageDir; -Dfake.checkpointDir overrides it.
	dir := v.prop("fake.checkpointDir", v.prop("stasis.imageDir", ""))
	if st, err := os.Stat(dir); dir == "" || err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" java.lang.IllegalArgumentException: Checkpoint directory %q does not exist or is not a directory\n", dir)
		return
	}
	if !v.checkpointing.CompareAndSwap(false, true) {
		return
	}
	v.checkpoint(dir, "criu.log", "openj9")
}
