// Package childproc runs a server (a dealer, a model server) as a child
// process: its output logged to a file and optionally echoed, its address
// taken from the "listening on ADDR" line the autorep servers print on
// stderr, and stopped with SIGTERM, then killed after a grace period.
// `autorep demo` runs its dealer and model servers with it.
package childproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartTimeout is how long Start waits for the "listening on" line, and
// StopGrace how long Stop waits after SIGTERM before killing.
const (
	StartTimeout = 60 * time.Second
	StopGrace    = 15 * time.Second
)

// Proc is a running child process.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	// Addr is the address the child printed after "listening on ".
	Addr string
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// Start runs exe with args, writes its stdout and stderr to the file
// logPath (and each stderr line, prefixed "[name] ", to echo unless nil)
// and waits until it prints "listening on ADDR" on stderr. A child that
// exits first, or prints nothing within StartTimeout, is an error (and is
// stopped); so is ctx ending meanwhile.
func Start(ctx context.Context, name, exe string, args []string, logPath string, echo io.Writer) (*Proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout = logFile
	pipe, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if echo != nil {
				fmt.Fprintf(echo, "[%s] %s\n", name, line)
			}
			if a, ok := ListenAddr(line); ok {
				select {
				case addrCh <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	select {
	case p.Addr = <-addrCh:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited at start (%v); see %s", name, p.exitErr(), logPath)
	case <-time.After(StartTimeout):
		p.Stop()
		return nil, fmt.Errorf("%s did not start listening within %.0f s", name, StartTimeout.Seconds())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

// ListenAddr returns the address in a line "... listening on ADDR[,] ...".
func ListenAddr(line string) (string, bool) {
	i := strings.Index(line, "listening on ")
	if i < 0 {
		return "", false
	}
	f := strings.Fields(line[i+len("listening on "):])
	if len(f) == 0 {
		return "", false
	}
	return strings.TrimSuffix(f[0], ","), true
}

func (p *Proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Alive returns an error if the child has exited.
func (p *Proc) Alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited unexpectedly: %v", p.Name, p.exitErr())
	default:
		return nil
	}
}

// Stop sends SIGTERM, waits up to StopGrace, then kills.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopGrace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}
