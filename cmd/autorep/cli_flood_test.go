//go:build linux

package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// lowerNofile sets the open-file limit (soft and hard) of process pid to
// its open descriptors plus spare, with prlimit(2): a Go process raises
// its soft limit to the hard one when it starts, so the limit is lowered
// once it runs.
func lowerNofile(t *testing.T, pid, spare int) {
	t.Helper()
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Skipf("no /proc/%d/fd: %v", pid, err)
	}
	n := uint64(len(fds) + spare)
	lim := syscall.Rlimit{Cur: n, Max: n}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		t.Skipf("prlimit(%d, RLIMIT_NOFILE): %v", pid, e)
	}
}

// TestFDFlood: a flood of raw connections that exhausts the file
// descriptors of `autorep dealer` and `autorep serve` (their open-file
// limit lowered to a few spare descriptors) makes their accept fail with
// EMFILE; both keep serving (the accept loop backs off and retries, issue
// 19 finding 3), and once the flood is gone an honest client's inference
// through both succeeds.
func TestFDFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the descriptor flood")
	}
	needData(t, "mnist")
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	dealerAddr, dealer := startDaemon(t, "dealer", "--listen", "127.0.0.1:0", "--insecure", "--grace", "1s")
	serverAddr, server := startDaemon(t, "serve", "--model", file, "--listen", "127.0.0.1:0", "--dealer", dealerAddr,
		"--insecure", "--pool", "0", "--grace", "1s")
	const spare = 8
	lowerNofile(t, dealer.cmd.Process.Pid, spare)
	lowerNofile(t, server.cmd.Process.Pid, spare)

	// More connections to each than it has descriptors to spare; the ones
	// it cannot accept wait in the kernel's backlog.
	var flood []net.Conn
	for _, addr := range []string{dealerAddr, serverAddr} {
		for range 4 * spare {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				break // the backlog is full too
			}
			flood = append(flood, c)
		}
	}
	for _, d := range []*daemon{dealer, server} {
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.stderr(), "too many open files") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(d.stderr(), "too many open files") {
			t.Fatalf("autorep %s never ran out of descriptors under %d connections\n%s", d.name, len(flood), d.stderr())
		}
	}
	t.Logf("%d flood connections; both processes out of descriptors", len(flood))
	time.Sleep(200 * time.Millisecond) // a few back-off rounds
	for _, c := range flood {
		c.Close()
	}
	for _, d := range []*daemon{dealer, server} {
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("autorep %s exited under the flood: %v\n%s", d.name, err, d.stderr())
		default:
		}
	}
	t0 := time.Now()
	r := runCLI(t, 2*time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--dataset", "mnist", "--index", "0")
	wantOK(t, r)
	if !strings.Contains(r.stdout+r.stderr, "label") {
		t.Errorf("infer after the flood:\n%s", r)
	}
	t.Logf("inference after the flood took %v", time.Since(t0).Round(time.Millisecond))
}
