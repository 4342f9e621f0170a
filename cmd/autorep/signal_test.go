package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/testutil"
	"github.com/autorep/autorep/modelfile"
)

// TestSignalCheckpoint sends SIGTERM to `autorep train` and `autorep
// reduce` (LeNet, MNIST subset) as soon as they start training: each
// writes its checkpoint after the step in progress and exits with a
// resume hint; a second process resumes it within the epoch and ends with
// the same model file tensors as an uninterrupted run.
func TestSignalCheckpoint(t *testing.T) {
	dataDir := os.Getenv("AUTOREP_DATA")
	if _, err := os.Stat(filepath.Join(dataDir, "mnist")); dataDir == "" || err != nil {
		t.Skip("no mnist under AUTOREP_DATA: skipping the signal checkpoint test")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.safetensors")
	trainArgs := func(out string) []string {
		return []string{"train", "--model", "lenet", "--dataset", "mnist", "--data", dataDir, "--epochs", "1",
			"--limit", "640", "--test-limit", "128", "--batch", "64", "--threads", "1", "--out", out}
	}
	// The base model of the reduction, trained without interruption.
	if r := runCLI(t, 5*time.Minute, trainArgs(base)...); r.code != 0 {
		t.Fatal(r)
	}
	reduceArgs := func(out string) []string {
		return []string{"reduce", "--model", base, "--data", dataDir, "--method", "autorep", "--budget", "50%",
			"--epochs", "1", "--train-limit", "640", "--batch", "64", "--bn-batches", "2", "--out", out}
	}
	for _, c := range []struct {
		name, start, ckpt string
		args              func(out string) []string
	}{
		{"train", "train lenet on mnist", ".ckpt", trainArgs},
		{"reduce", "search phase:", ".ckpt.search", reduceArgs},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := filepath.Join(dir, c.name+"-full.safetensors")
			if r := runCLI(t, 5*time.Minute, c.args(want)...); r.code != 0 {
				t.Fatal(r)
			}
			out := filepath.Join(dir, c.name+".safetensors")
			stderr, code := runSignalled(t, c.start, c.args(out)...)
			for _, s := range []string{"terminated: writing a checkpoint after the current step",
				"interrupted in epoch 1 after batch ", "checkpoint written to " + out + c.ckpt, "continue with the same flags and --resume"} {
				if !strings.Contains(stderr, s) {
					t.Fatalf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			t.Logf("signalled run:\n%s", stderr)
			if code != 1 {
				t.Fatalf("exit code %d after SIGTERM, want 1:\n%s", code, stderr)
			}
			r := runCLI(t, 5*time.Minute, append(c.args(out), "--resume")...)
			if r.code != 0 || !strings.Contains(r.stderr, "in epoch 1") {
				t.Fatalf("resume did not continue within epoch 1:\n%s", r)
			}
			t.Logf("resumed run:\n%s", r.stderr)
			a, err := modelfile.Read(want)
			if err != nil {
				t.Fatal(err)
			}
			b, err := modelfile.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.SameTensors(a.Tensors, b.Tensors); err != nil {
				t.Fatalf("signalled and resumed vs uninterrupted: %v", err)
			}
		})
	}
}

// runSignalled runs autorep with args, sends it SIGTERM once its stderr
// has a line containing start, and returns its stderr and exit code.
func runSignalled(t *testing.T, start string, args ...string) (string, int) {
	t.Helper()
	bin := autorepBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	sent := false
	sc := bufio.NewScanner(pipe)
	sc.Split(scanLinesCR)
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
		if !sent && strings.Contains(sc.Text(), start) {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
	}
	io.Copy(io.Discard, pipe)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("autorep %s did not finish:\n%s", strings.Join(args, " "), all.String())
	}
	if !sent {
		t.Fatalf("autorep %s never printed %q:\n%s", strings.Join(args, " "), start, all.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if crashRE.MatchString(all.String()) {
		t.Fatalf("autorep crashed:\n%s", all.String())
	}
	return all.String(), code
}

// scanLinesCR splits at '\n' and at the '\r' of progress bars.
func scanLinesCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
