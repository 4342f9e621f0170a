package secnet

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// TestClientCertificates: a listener with ClientCAFile reports a client
// certificate issued by that CA as verified (with its name), a peer
// without one as unverified, and refuses at the handshake a certificate
// from another CA or a server certificate (no client-auth usage).
func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := GenerateSelfSigned(filepath.Join(dir, "listener"), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey, err := GenerateCA(filepath.Join(dir, "ca"), "servers", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cc, ck, err := IssueClientCert(caCert, caKey, filepath.Join(dir, "good"), "model-server-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, otherKey, err := GenerateCA(filepath.Join(dir, "other"), "others", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bc, bk, err := IssueClientCert(otherCA, otherKey, filepath.Join(dir, "bad"), "intruder", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := IssueClientCert(cc, ck, filepath.Join(dir, "x"), "x", time.Hour); err == nil {
		t.Error("a client certificate signed another")
	}
	ln, err := Listen("127.0.0.1:0", Config{CertFile: cert, KeyFile: key, ClientCAFile: caCert}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !ln.VerifiesClients() {
		t.Error("listener with ClientCAFile does not verify clients")
	}
	type result struct {
		name string
		ok   bool
		err  error
	}
	results := make(chan result, 1)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := ln.Handshake(context.Background(), nc)
			if err != nil {
				results <- result{err: err}
				continue
			}
			name, ok := PeerVerified(c)
			c.Recv() // wait for the dialer's probe so the handshake finished on both sides
			c.Close()
			results <- result{name, ok, nil}
		}
	}()
	addr := ln.Addr().String()
	dial := func(cfg Config) (result, error) {
		cfg.CAFile = cert
		c, err := Dial(context.Background(), addr, cfg, transport.DefaultOptions())
		if err == nil {
			// TLS 1.3 reports a refused client certificate on the first read.
			c.Send([]byte("probe"))
			_, err = c.Recv()
			c.Close()
		}
		return <-results, err
	}
	if r, _ := dial(Config{ClientCertFile: cc, ClientKeyFile: ck}); r.err != nil || !r.ok || r.name != "model-server-1" {
		t.Errorf("certificate of the CA: %+v", r)
	}
	if r, _ := dial(Config{}); r.err != nil || r.ok {
		t.Errorf("no certificate: %+v (want accepted, unverified)", r)
	}
	// A certificate the listener's CA did not sign is not even sent (Go's
	// client offers only certificates the server's request accepts), or
	// the handshake fails: never verified.
	if r, _ := dial(Config{ClientCertFile: bc, ClientKeyFile: bk}); r.ok {
		t.Errorf("certificate of another CA verified: %+v", r)
	}
	if r, _ := dial(Config{ClientCertFile: cert, ClientKeyFile: key}); r.ok {
		t.Errorf("server certificate verified as a client certificate: %+v", r)
	}
	if _, err := Dial(context.Background(), addr, Config{CAFile: cert, ClientCertFile: cc}, transport.DefaultOptions()); err == nil {
		t.Error("client certificate without its key accepted")
	}
	plain, err := Listen("127.0.0.1:0", Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.VerifiesClients() {
		t.Error("insecure listener claims to verify clients")
	}
}
