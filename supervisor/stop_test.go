package supervisor

import (
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestStopBeginsWhenTheSignalArrives: the stop is recorded, with its
// signal, as SIGTERM or SIGINT arrives, while no phase reads signals (as
// during a restore), and the signal itself still waits for the phase that
// forwards it.
func TestStopBeginsWhenTheSignalArrives(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		s, err := New(Config{StopTimeout: time.Second, StopSignal: syscall.SIGTERM}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.StopRequested():
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: no stop began", sig)
		}
		since, _ := s.sinceStop()
		if got := s.stopSignal(); got != sig || since > time.Since(sent) {
			t.Fatalf("stop began by %v, %v ago; want %v, after it was sent", got, since, sig)
		}
		select {
		case got := <-s.sigs:
			if got != sig {
				t.Fatalf("the phases got %v, want %v", got, sig)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v never reached the phases", sig)
		}
		if err := s.stopped("in the test").(*ExitError); err.Code() != 128+int(sig) {
			t.Fatalf("stopped by %v: exit %d, want %d", sig, err.Code(), 128+int(sig))
		}
		s.Close()
	}
}
