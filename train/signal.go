package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultCheckpointEvery is the mid-epoch checkpoint interval of the train
// and reduce commands: a ResNet-18 checkpoint (weights and optimiser
// state) takes about a second to write, a stopped run loses at most this
// much.
const DefaultCheckpointEvery = 10 * time.Minute

// StopOnSignal makes the first SIGINT or SIGTERM ask a run (asked reports
// it; pass it as the run's Interrupt) to write its checkpoint at the next
// step boundary and stop, saying so on w under the command's name; the
// signal is then released, so a second one ends the process at once.
// stop releases the signals.
func StopOnSignal(name string, w io.Writer) (asked func() bool, stop func()) {
	var flag atomic.Bool
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			flag.Store(true)
			fmt.Fprintf(w, "\nautorep %s: %v: writing a checkpoint after the current step, then exiting (signal again to exit at once, losing the work since the last checkpoint)\n", name, s)
		case <-done:
		}
	}()
	return flag.Load, func() { signal.Stop(ch); close(done) }
}

// ResumeHint adds how to continue to the error of a run stopped with a
// checkpoint (ErrInterrupted); other errors pass unchanged.
func ResumeHint(err error) error {
	if errors.Is(err, ErrInterrupted) {
		return fmt.Errorf("%w; continue with the same flags and --resume", err)
	}
	return err
}
