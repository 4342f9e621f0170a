package main

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"image"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/models"
)

// TestTwoPartyProcessFaults is issue 15's fault check with real processes:
// `serve --suite twoparty` (TLS, no dealer) keeps serving the next honest
// `infer` process, with the plaintext model's label, after (1) a client
// killed with SIGKILL as its session opens (base OTs) and, with MNIST, one
// killed after the first of its three images (the next image's phases
// running), (2) hostile bytes on the port —
// random bytes instead of a TLS handshake, a TLS client sending junk for a
// frame header, a TLS client sending a frame cut short, and one that stalls
// mid-frame while an honest client is served — and (3) the server killed
// with SIGKILL during a session and a new one started on the same port: the
// client of the killed session exits with an error instead of hanging, and
// the next client is served by the new process. serve/twoparty_test.go's
// TestTwoPartyFaults covers the protocol faults in one process.
func TestTwoPartyProcessFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the multi-process twoparty fault test")
	}
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	m, err := models.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wantOK(t, runCLI(t, short, "dealer", "--gen-cert", filepath.Join(dir, "tls"), "--hosts", "127.0.0.1"))
	cert, key := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	serveArgs := func(addr string) []string {
		return []string{"serve", "--suite", "twoparty", "--model", file, "--listen", addr,
			"--tls-cert", cert, "--tls-key", key, "--grace", "1s"}
	}
	addr, server := startDaemon(t, serveArgs("127.0.0.1:0")...)

	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 4; y < 24; y++ { // a "1" with a foot
		img.Pix[y*28+14], img.Pix[y*28+15] = 255, 255
	}
	for x := 10; x < 20; x++ {
		img.Pix[23*28+x] = 255
	}
	imgPath := filepath.Join(dir, "one.png")
	writePNG(t, imgPath, img)
	plain := plainLogits(t, m, img)
	inferArgs := []string{"infer", "--server", addr, "--tls-ca", cert, "--image", imgPath, "--json", "--timeout", "2m"}
	honest := func(what string) {
		t.Helper()
		r := runCLI(t, 3*time.Minute, inferArgs...)
		wantOK(t, r)
		var res inferJSON
		decodeJSON(t, r, &res)
		closeLogits(t, what, res.Logits, plain)
		if res.Label != argmax(plain) {
			t.Errorf("%s: private label %d, plaintext %d", what, res.Label, argmax(plain))
		}
	}
	// opened waits until the server has logged more than n sessions opened.
	opened := func(d *daemon, n int) {
		t.Helper()
		for end := time.Now().Add(2 * time.Minute); strings.Count(d.stderr(), `msg="session opened"`) <= n; {
			if time.Now().After(end) {
				t.Fatalf("no session opened within 2 minutes\n%s", d.stderr())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	alive := func(d *daemon, what string) {
		t.Helper()
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("%s: the server exited (%v)\n%s", what, err, d.stderr())
		default:
		}
	}
	honest("first client")

	// 1. A client killed (SIGKILL) inside its session: its offline phase
	// starts as soon as the session opens.
	before := strings.Count(server.stderr(), `msg="session opened"`)
	victim := exec.Command(autorepBin(t), inferArgs...)
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	opened(server, before)
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	victim.Wait()
	alive(server, "client killed")
	honest("after a client killed at its session's opening")
	// With MNIST, a client of three images killed when the first one's
	// label is out: the second image's offline and online phases run.
	if d := os.Getenv("AUTOREP_DATA"); d == "" {
		t.Log("AUTOREP_DATA not set: no client killed between images")
	} else if _, err := os.Stat(filepath.Join(d, "mnist")); err != nil {
		t.Logf("AUTOREP_DATA=%s has no mnist: no client killed between images", d)
	} else {
		victim = exec.Command(autorepBin(t), "infer", "--server", addr, "--tls-ca", cert, "--dataset", "mnist",
			"--index", "0", "--count", "3", "--timeout", "2m")
		errOut, err := victim.StderrPipe() // infer prints each image's line there
		if err != nil {
			t.Fatal(err)
		}
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		var first string
		for sc := bufio.NewScanner(errOut); first == "" && sc.Scan(); {
			if strings.HasPrefix(sc.Text(), "image ") {
				first = sc.Text()
			}
		}
		victim.Process.Kill()
		victim.Wait()
		if first == "" {
			t.Fatal("the client of three images printed no first label")
		}
		t.Logf("client killed after its first image: %s", strings.TrimSpace(first))
		alive(server, "client killed between images")
		honest("after a client killed between images")
	}

	// 2. Hostile bytes on the port.
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	dialTLS := func() *tls.Conn {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		return c
	}
	junk := make([]byte, 4096)
	rand.Read(junk)
	if c, err := net.DialTimeout("tcp", addr, 10*time.Second); err != nil {
		t.Fatal(err)
	} else { // random bytes where the TLS client hello belongs
		c.Write(junk)
		c.Close()
	}
	c := dialTLS() // junk after the handshake: a frame header of random length
	c.Write(junk)
	c.Close()
	c = dialTLS() // a frame cut short: a small length, then fewer bytes
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], 100)
	c.Write(append(hdr[:], junk[:10]...))
	c.Close()
	stalled := dialTLS() // stalls mid-frame while the honest client runs
	stalled.Write(append(hdr[:], junk[:10]...))
	alive(server, "hostile bytes")
	honest("after hostile bytes, beside a stalled connection")
	stalled.Close()
	alive(server, "stalled connection closed")

	// 3. The server killed during a session and restarted on its port.
	before = strings.Count(server.stderr(), `msg="session opened"`)
	orphan := exec.Command(autorepBin(t), inferArgs...)
	var orphanErr strings.Builder
	orphan.Stderr = &orphanErr
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	opened(server, before)
	server.cmd.Process.Kill()
	if err := <-server.done; err == nil {
		t.Fatal("the server exited 0 after SIGKILL")
	}
	server.done <- nil // killed on purpose: startDaemon's cleanup expects a clean exit
	orphanDone := make(chan error, 1)
	go func() { orphanDone <- orphan.Wait() }()
	select {
	case err := <-orphanDone:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || crashRE.MatchString(orphanErr.String()) {
			t.Errorf("the client of the killed server: %v, want exit 1 with an error\n%s", err, orphanErr.String())
		}
	case <-time.After(time.Minute):
		orphan.Process.Kill()
		<-orphanDone
		t.Fatalf("the client of the killed server did not exit within a minute\n%s", orphanErr.String())
	}
	addr2, _ := startDaemon(t, serveArgs(addr)...)
	if addr2 != addr {
		t.Fatalf("restarted server listens on %s, want %s", addr2, addr)
	}
	honest("after the server's restart")
	t.Logf("server log before the kill:\n%s\nthe killed server's client: %s", server.stderr(), strings.TrimSpace(orphanErr.String()))
}
