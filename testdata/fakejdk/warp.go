package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Azul Warp is closed source; what the double models of the engine itself
// comes from Azul's documentation (docs/runtimes.md, "Azul Warp"): no CRIU
// and no privileges; the image is DIR/core.img; the checkpoint prints
// "warp: Checkpoint successful!" and the JVM dies (SIGKILL, 137); the
// restore prints "warp: Restore successful!".
//
// How the JVM drives it is openjdk/crac's, for every library engine
// (src/hotspot/share/runtime/crac_engine.cpp; the API is
// src/hotspot/share/include/crlib/crlib.h): CracEngine::checkpoint writes
// DIR/engine (record_engine, in crac.go) and calls the engine's checkpoint;
// CracEngine::restore checks DIR/engine (check_engine, in restore.go) and
// calls the engine's restore inside the restoring
// `java -XX:CRaCRestoreFrom=DIR -XX:CRaCEngine=warp` itself. Warp, which
// runs no CRIU (Azul's documentation), makes that very process the
// application: it keeps its own PID, and the checkpoint's is not preserved.

const warpCore = "core.img"

// warpState is what the double's core.img carries: the application's state
// and its options, since the restoring command line has none of them.
type warpState struct {
	Props map[string]string
	Count int64
	Tick  int64
}

func (v *vm) warpCheckpoint(dir string) {
	// The caller holds v.mu (the safepoint): nothing is printed after the image.
	st := warpState{Props: v.opts.props, Count: v.count.Load(), Tick: v.tick.Load()}
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, warpCore), data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "warp: Checkpoint failed: %v\n", err)
		v.engineFailed(dir)
		return
	}
	fmt.Println("warp: Checkpoint successful!")
	dieBySignal(syscall.SIGKILL)
}

// warpRestore loads core.img into this very process, which then serves as
// the application.
func (v *vm) warpRestore(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, warpCore))
	var st warpState
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "warp: Restore failed: %v\n", err)
		return 1
	}
	v.opts.props = st.Props
	v.opts.restoreFrom = ""
	v.count.Store(st.Count)
	v.tick.Store(st.Tick)
	v.start, v.startTime = time.Now(), procStartTime()
	fmt.Println("warp: Restore successful!")
	v.restored = true
	if !v.build.static {
		if err := mapLibrary(vmLibrary(v.home, v.flavour)); err != nil {
			return vmCreateError(err.Error())
		}
	}
	v.attach = newAttachListener(v)
	return v.serve()
}
