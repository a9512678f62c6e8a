package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A restore's image checksums (CRC-32C over the whole image: 15 to 30 ms
// for the demo service's 47 MB in Docker) need not delay CRIU: CRIU reads
// the image meanwhile, and the restored tasks are held before they resume
// until stasis has its verdict. CRIU runs its action scripts at each stage
// of a restore and aborts the restore, killing the restored tasks, when
// one fails (checkpoint-restore/criu criu/action-scripts.c,
// run_shell_scripts(): the script is exec'd with no arguments and
// CRTOOLS_SCRIPT_ACTION naming the stage; criu/cr-restore.c runs
// "pre-resume" before the tasks resume). The script stasis gives CRIU
// reads the verdict from a FIFO at pre-resume and fails unless it is "ok".
// With nothing written (stasis gone), it reads end-of-file: no resume.

const (
	holdScript = "pre-resume.sh"
	holdFIFO   = "verdict.fifo"
	verdictOK  = "ok"
)

// hold is one restore's pre-resume gate.
type hold struct {
	script, fifo string
	w            *os.File // stasis's end of the FIFO (opened read-write: never blocks)
}

// newHold writes the script and the FIFO into dir (the state directory), or
// says why the tasks cannot be held there: then the checksums are checked
// before CRIU starts, as without this.
func newHold(dir string) (*hold, error) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		return nil, errors.New("no /bin/sh for CRIU's action script")
	}
	if noExec(dir) {
		return nil, fmt.Errorf("%s is mounted noexec: CRIU cannot run an action script there", dir)
	}
	h := &hold{script: filepath.Join(dir, holdScript), fifo: filepath.Join(dir, holdFIFO)}
	for _, f := range []string{h.script, h.fifo} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("remove an earlier restore's %s: %w", f, err)
		}
	}
	if err := os.WriteFile(h.script, []byte(HoldScript(h.fifo)), 0o700); err != nil {
		return nil, fmt.Errorf("write CRIU's action script: %w", err)
	}
	w, err := openFIFO(h.fifo)
	if err != nil {
		_ = os.Remove(h.script)
		return nil, err
	}
	h.w = w
	return h, nil
}

// HoldScript is the action script: only pre-resume waits, every other stage
// passes at once (the shell's builtins only: no process is forked).
func HoldScript(fifo string) string {
	return "#!/bin/sh\n" +
		"# stasis: the restored JVM resumes only once stasis has checked the image's checksums.\n" +
		"[ \"$CRTOOLS_SCRIPT_ACTION\" = pre-resume ] || exit 0\n" +
		"read -r verdict < " + shellQuote(fifo) + " || exit 1\n" +
		"[ \"$verdict\" = " + verdictOK + " ]\n"
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tell hands the verdict to the script: "ok" only for no error.
func (h *hold) tell(err error) {
	v := verdictOK
	if err != nil {
		v = "damaged"
	}
	_, _ = h.w.WriteString(v + "\n")
}

// close removes the gate once CRIU is done.
func (h *hold) close() {
	_ = h.w.Close()
	_ = os.Remove(h.fifo)
	_ = os.Remove(h.script)
}
