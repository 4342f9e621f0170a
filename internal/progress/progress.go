// Package progress draws a one-line progress bar with rate and ETA on a
// terminal (or plain periodic lines when the output is not a terminal).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

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
}

// New returns a bar writing to w (usually os.Stderr) for total items of unit
// (e.g. "img"). A nil w disables output.
func New(w io.Writer, label string, total int, unit string) *Bar {
	b := &Bar{w: w, label: label, total: total, unit: unit, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

// Set records that done items are finished and shows extra (e.g.
// "loss 0.31 acc 91.2%"). Redraws at most 10 times a second on a terminal
// and every 10 seconds otherwise.
func (b *Bar) Set(done int, extra string) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	now := time.Now()
	every := 100 * time.Millisecond
	if !b.tty {
		every = 10 * time.Second
	}
	if now.Sub(b.last) < every && done < b.total {
		return
	}
	b.last = now
	b.draw(extra)
}

// Finish draws the final state and ends the line.
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
	el := time.Since(b.start).Seconds()
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
