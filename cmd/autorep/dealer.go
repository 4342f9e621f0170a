package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

func init() {
	register("dealer", "run the network dealer (correlated randomness for serve/infer sessions)", runDealer)
}

const dealerSummary = `Run the dealer of private inference: the model server and each client
connect to it for every session (TLS) and receive their halves of the
session's correlated randomness (masks, Beaver material, FSS keys). It never
sees weights or inputs, and must not collude with either party.

--gen-cert DIR writes a self-signed certificate (DIR/cert.pem, DIR/key.pem,
valid for --hosts) for tests and demos, and exits; use cert.pem as --tls-ca
on the processes that connect.`

// tlsFlags are the TLS options shared by dealer, serve and infer.
type tlsFlags struct {
	cert, key, ca, name *string
	insecure            *bool
	timeout             *time.Duration
	link                *string
}

func addTLSFlags(fs *flag.FlagSet, listens bool) *tlsFlags {
	t := &tlsFlags{}
	if listens {
		t.cert = fs.String("tls-cert", "", "PEM certificate presented to peers")
		t.key = fs.String("tls-key", "", "PEM private key of --tls-cert")
	}
	t.ca = fs.String("tls-ca", "", "PEM CA bundle verifying the peers dialed (default: system roots)")
	t.name = fs.String("tls-server-name", "", "name expected in dialed peers' certificates (default: the host of the address)")
	t.insecure = fs.Bool("insecure", false, "no TLS: plain TCP, loopback addresses only (experiments)")
	t.timeout = fs.Duration("timeout", 10*time.Minute, "read/write timeout of every connection")
	t.link = fs.String("emulate-link", "", "shape this process's outgoing traffic like a network: lan, wan or RTT,RATE (e.g. 10ms,100mbit); all processes must set it (fallback for tc netem)")
	return t
}

func (t *tlsFlags) config() (secnet.Config, error) {
	c := secnet.Config{CAFile: *t.ca, ServerName: *t.name, Insecure: *t.insecure}
	// The transport reads 0 as "no deadline": a stalled peer would then hold
	// its connection (and session) forever.
	if *t.timeout <= 0 {
		return c, fmt.Errorf("--timeout must be positive (got %v): 0 would disable every read/write deadline", *t.timeout)
	}
	if t.cert != nil {
		c.CertFile, c.KeyFile = *t.cert, *t.key
	}
	l, err := secnet.ParseLink(*t.link)
	if err != nil {
		return c, fmt.Errorf("--emulate-link: %w", err)
	}
	c.Link = l
	return c, nil
}

func (t *tlsFlags) options() transport.Options {
	o := transport.DefaultOptions()
	o.ReadTimeout, o.WriteTimeout = *t.timeout, *t.timeout
	return o
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runDealer(args []string) error {
	fs := newFlags("dealer", "--listen ADDR (--tls-cert FILE --tls-key FILE | --insecure)", dealerSummary)
	listen := fs.String("listen", "127.0.0.1:7001", "address to listen on (host:port; port 0 picks one)")
	tf := addTLSFlags(fs, true)
	seed := fs.String("seed", "", "fixed master seed (32 hex digits; tests only: anyone knowing it knows all masks)")
	maxSessions := fs.Int("max-sessions", dealer.DefaultMaxSessions, "maximum open sessions")
	grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM, time given to open sessions before they are closed")
	genCert := fs.String("gen-cert", "", "write a self-signed certificate and key to this directory and exit")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "with --gen-cert: comma-separated IPs and names the certificate is valid for")
	quiet := fs.Bool("quiet", false, "do not log sessions")
	maxMem := fs.String("max-memory", "", "bound on the material held for parties that have not fetched it (e.g. 4GiB; default: a quarter of the RAM; off: none); a session that would exceed it waits --memory-wait, then fails")
	memWait := fs.Duration("memory-wait", dealer.DefaultMemoryWait, "how long a request waits for memory under --max-memory before its session fails")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	limit := dealer.DefaultMaxMemory()
	switch strings.ToLower(*maxMem) {
	case "":
	case "off", "none":
		limit = -1
	default:
		n, err := dealer.ParseBytes(*maxMem)
		if err != nil || n == 0 {
			return fmt.Errorf("--max-memory: want a positive size such as 4GiB, or off (%q)", *maxMem)
		}
		limit = n
	}
	if *memWait <= 0 {
		return errors.New("--memory-wait must be positive")
	}
	if *genCert != "" {
		cert, key, err := secnet.GenerateSelfSigned(*genCert, strings.Split(*hosts, ","), 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s and %s (valid for %s)\n", cert, key, *hosts)
		return nil
	}
	var d *mpc.Dealer
	if *seed != "" {
		// Anyone who knows a fixed seed recomputes every weight and input
		// mask of every session, so it must never serve other machines.
		if secnet.CheckLoopback(*listen) != nil {
			return fmt.Errorf("--seed is for tests only and needs a loopback --listen address (127.0.0.1, ::1 or localhost), not %q: anyone knowing the seed knows every mask", *listen)
		}
		b, err := hex.DecodeString(*seed)
		if err != nil || len(b) != len(ring.Seed{}) {
			return fmt.Errorf("--seed: want %d hex digits", 2*len(ring.Seed{}))
		}
		var s ring.Seed
		copy(s[:], b)
		d = mpc.NewDealer(s)
		fmt.Fprintln(os.Stderr, "dealer: WARNING: fixed seed, for tests only")
	} else {
		var err error
		if d, err = mpc.NewRandomDealer(); err != nil {
			return err
		}
	}
	cfg, err := tf.config()
	if err != nil {
		return err
	}
	ln, err := secnet.Listen(*listen, cfg, tf.options())
	if err != nil {
		return err
	}
	srv := &dealer.Server{Dealer: d, MaxSessions: *maxSessions, Grace: *grace, MaxMemory: limit, MemoryWait: *memWait}
	if !*quiet {
		srv.Logf = logf
	}
	ctx, stop := signalContext()
	defer stop()
	mode := "TLS"
	if *tf.insecure {
		mode = "insecure, no TLS"
	}
	memNote := "no memory bound"
	if limit > 0 {
		memNote = "material held in memory ≤ " + dealer.FormatBytes(limit)
	}
	fmt.Fprintf(os.Stderr, "dealer: listening on %s (%s, %s)\n", ln.Addr(), mode, memNote)
	err = srv.Serve(ctx, ln)
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "dealer: stopped after %d party sessions, %d material bytes, %d sessions failed by the memory bound\n", st.Sessions, st.MaterialBytes, st.MemoryRefused)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// logf prints a timestamped line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
