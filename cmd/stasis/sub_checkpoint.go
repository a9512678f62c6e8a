package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"stasis/control"
)

// cmdCheckpoint is `stasis checkpoint`, the manual trigger: it asks the
// running stasis to checkpoint (which it does only while waiting for
// readiness with `manual` in STASIS_CHECKPOINT_ON) and exits 0 when the
// request was accepted, 1 with stasis's reason otherwise. Accepted means the
// checkpoint starts, not that it succeeded: the init's exit status says that.
func cmdCheckpoint(args []string, environ map[string]string, stdout, stderr io.Writer) error {
	cfg, rest, err := subConfig("checkpoint", args, environ, stdout, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout(cfg))
	defer cancel()
	resp, err := control.Call(ctx, cfg.StateDir, control.Request{Op: control.OpCheckpoint})
	if err != nil {
		return errors.New(noAnswer(cfg.StateDir, err))
	}
	if !resp.OK {
		return errors.New("refused: " + resp.Error)
	}
	var d struct{ Message string }
	if json.Unmarshal(resp.Data, &d) != nil || d.Message == "" {
		d.Message = "checkpoint requested"
	}
	fmt.Fprintln(stdout, d.Message)
	return nil
}
