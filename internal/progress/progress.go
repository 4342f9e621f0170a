// Package progress draws a one-line progress bar with rate and ETA on a
// terminal; into a pipe or file a bar prints one line when it finishes
// (one per epoch or phase), so that logs stay readable, and one more each
// PipeInterval while it runs, so that a background run's log shows where a
// long epoch is (a ResNet-18 epoch takes 10–20 minutes on two cores).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// PipeInterval is the least time between two lines of a running bar that
// writes into a pipe or file: work shorter than this prints only its final
// line.
const PipeInterval = 5 * time.Minute

// Bar is a progress bar for a known amount of work.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int
	done     int
	unit     string
	start    time.Time
	last     time.Time
	tty      bool
	finished bool
	now      func() time.Time // time.Now; a test's clock
}

// New returns a bar writing to w (usually os.Stderr) for total items of unit
// (e.g. "img"). A nil w disables output. The bar redraws in place only
// when w is a terminal (a character device).
func New(w io.Writer, label string, total int, unit string) *Bar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return newBar(w, label, total, unit, tty)
}

func newBar(w io.Writer, label string, total int, unit string, tty bool) *Bar {
	return newBarClock(w, label, total, unit, tty, time.Now)
}

func newBarClock(w io.Writer, label string, total int, unit string, tty bool, now func() time.Time) *Bar {
	b := &Bar{w: w, label: label, total: total, unit: unit, start: now(), tty: tty, now: now}
	if !tty {
		b.last = b.start // the first line after PipeInterval
	}
	return b
}

// Set records that done items are finished and shows extra (e.g.
// "loss 0.31 acc 91.2%"). On a terminal it redraws at most 10 times a
// second; otherwise it prints a line when PipeInterval has passed since the
// start or the last line (Finish prints the final one).
func (b *Bar) Set(done int, extra string) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	now := b.now()
	every := 100 * time.Millisecond
	if !b.tty {
		if done >= b.total { // Finish prints the final line
			return
		}
		every = PipeInterval
	}
	if now.Sub(b.last) < every && done < b.total {
		return
	}
	b.last = now
	b.draw(extra)
}

// Finish draws the final state and ends the line (into a pipe or file:
// the bar's last line, its only one for work shorter than PipeInterval).
func (b *Bar) Finish(extra string) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.draw(extra)
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

func (b *Bar) draw(extra string) {
	el := b.now().Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done) / el
	}
	eta := "?"
	if rate > 0 && b.total >= b.done {
		eta = (time.Duration(float64(b.total-b.done)/rate) * time.Second).Round(time.Second).String()
	}
	frac := 0.0
	if b.total > 0 {
		frac = float64(b.done) / float64(b.total)
	}
	const width = 24
	n := int(frac * width)
	if n > width {
		n = width
	}
	line := fmt.Sprintf("%s [%s%s] %3.0f%% %d/%d %.0f %s/s ETA %s %s",
		b.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac,
		b.done, b.total, rate, b.unit, eta, extra)
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(b.w, line)
	}
}
