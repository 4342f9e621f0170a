package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTerminalRedraws: on a terminal each Set may redraw the line in place
// (carriage return, clear to end of line) and Finish ends it.
func TestTerminalRedraws(t *testing.T) {
	var buf bytes.Buffer
	b := newBar(&buf, "epoch 1/2", 100, "img", true)
	b.Set(10, "loss 1.0")
	b.Set(100, "loss 0.5") // done: drawn whatever the time since the last draw
	b.Finish("loss 0.5")
	out := buf.String()
	if n := strings.Count(out, "\r\033[K"); n != 3 {
		t.Errorf("%d redraws, want 3:\n%q", n, out)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("terminal output should end its one line once:\n%q", out)
	}
	if !strings.Contains(out, "epoch 1/2 [") || !strings.Contains(out, "100/100") {
		t.Errorf("bar text:\n%q", out)
	}
}

// TestPipeOneLine: into a pipe or file a bar prints exactly one plain line,
// when it finishes, whatever the number of updates.
func TestPipeOneLine(t *testing.T) {
	var buf bytes.Buffer
	b := newBar(&buf, "private inference", 50, "img", false)
	for i := 1; i <= 50; i++ {
		b.Set(i, "acc 98%")
	}
	if buf.Len() != 0 {
		t.Fatalf("updates printed before Finish:\n%q", buf.String())
	}
	b.Finish("acc 98%")
	b.Finish("again") // a second Finish prints nothing
	out := buf.String()
	if strings.Count(out, "\n") != 1 || strings.ContainsAny(out, "\r\033") {
		t.Fatalf("want one plain line, got:\n%q", out)
	}
	if !strings.HasPrefix(out, "private inference [") || !strings.Contains(out, "50/50") || !strings.HasSuffix(out, "acc 98%\n") {
		t.Errorf("line: %q", out)
	}
}

// TestNewDetectsTerminal: a pipe and a regular file are not terminals; a
// nil writer or bar prints nothing.
func TestNewDetectsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, out := range []*os.File{w, f} {
		if b := New(out, "x", 1, "img"); b.tty {
			t.Errorf("%s taken for a terminal", out.Name())
		}
	}
	New(nil, "x", 1, "img").Set(1, "")
	var nilBar *Bar
	nilBar.Set(1, "")
	nilBar.Finish("")
}

// TestPipeLongWork: into a pipe or file a bar that runs longer than
// PipeInterval prints a plain line each PipeInterval, then its final line.
func TestPipeLongWork(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	b := newBarClock(&buf, "epoch 1/4", 390, "step", false, func() time.Time { return clock })
	for i := 1; i <= 390; i++ {
		clock = clock.Add(2500 * time.Millisecond) // 16 min 15 s in all
		b.Set(i, "loss 1.0")
		if i == 119 && buf.Len() != 0 {
			t.Fatalf("a line before %v had passed:\n%q", PipeInterval, buf.String())
		}
	}
	b.Finish("loss 0.9")
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || strings.ContainsAny(out, "\r\033") {
		t.Fatalf("want 3 plain lines at 5, 10 and 15 min and the final one, got:\n%s", out)
	}
	for i, want := range []string{" 120/390 ", " 240/390 ", " 360/390 ", " 390/390 "} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want %q", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], "ETA 11m15s loss 1.0") || !strings.HasSuffix(lines[3], "loss 0.9") {
		t.Errorf("rate or extra wrong:\n%s", out)
	}
}
