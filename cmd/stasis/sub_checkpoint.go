package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"stasis/control"
)

// cmdCheckpoint is `stasis checkpoint`, the manual trigger: it asks the
// running stasis to checkpoint (which it does only while waiting for
// readiness with `manual` in STASIS_CHECKPOINT_ON) and exits 0 when the
// request was accepted, 1 with stasis's reason otherwise. Accepted means the
// checkpoint starts, not that it succeeded: the init's exit status says that.
func cmdCheckpoint(args []string, environ map[string]string, stdout, stderr io.Writer) int {
	cfg, rest, code := subConfig("checkpoint", args, environ, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "stasis checkpoint: unexpected argument %q\n", rest[0])
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout(cfg))
	defer cancel()
	resp, err := control.Call(ctx, cfg.StateDir, control.Request{Op: control.OpCheckpoint})
	if err != nil {
		fmt.Fprintf(stderr, "stasis checkpoint: %s\n", noAnswer(cfg.StateDir, err))
		return 1
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "stasis checkpoint: refused: %s\n", resp.Error)
		return 1
	}
	var d struct{ Message string }
	if json.Unmarshal(resp.Data, &d) != nil || d.Message == "" {
		d.Message = "checkpoint requested"
	}
	fmt.Fprintln(stdout, d.Message)
	return 0
}
