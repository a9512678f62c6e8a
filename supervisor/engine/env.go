package engine

// Whether the restored JVM sees the environment of the restore or keeps the
// checkpoint's.
//
// CRaC (and Warp, which restores through the same launcher): the restoring
// java passes its flags, system properties and environment to the restored
// VM, which reads them at once after the engine returns (openjdk/crac
// src/hotspot/share/runtime/crac.cpp, VM_Crac::doit and VM_Crac::read_shm:
// "Restore parameters (JVM flags, env vars, system properties,
// arguments...)"), so System.getenv() gives this start's values.
//
// OpenJ9 keeps the checkpoint's environment; only variables the application
// registers (CRIUSupport.registerRestoreEnvVariables) are read again, and
// LANG, LC_ALL, LC_CTYPE may not change (eclipse-openj9/openj9-docs
// docs/dorgeclipseopenj9criuimmutableenvvars.md).
//
// The criu engine restores the process's memory as it was: its environment
// is the checkpoint's.

func (*CRaC) RestoreSeesNewEnv() bool   { return true }
func (*OpenJ9) RestoreSeesNewEnv() bool { return false }
func (*CRIU) RestoreSeesNewEnv() bool   { return false }
