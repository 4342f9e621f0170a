package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

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
sees weights or inputs, and must not collude with either party (see
docs/SECURITY.md).

Admission: --server-ca reserves the server role to model servers holding a
client certificate of that CA; --ticket-key makes clients (and servers
without certificates) present a join ticket the model server issues under
the same key. Every request is bounded (--max-request-*) and every session
(--session-memory, --session-cpu, --idle-timeout) before anything is
generated. --metrics serves Prometheus metrics, /healthz and /readyz; on
SIGTERM the dealer reports not ready, refuses new sessions, and lets open
ones finish for --grace.

Key material is read from files, never from flags (arguments are visible to
every user of the machine): --gen-cert DIR writes a self-signed TLS
certificate (DIR/cert.pem, DIR/key.pem, valid for --hosts; use cert.pem as
--tls-ca on the processes that connect); --gen-server-ca DIR a CA for model
servers (DIR/ca.pem, DIR/ca-key.pem); --gen-server-cert DIR a model
server's client certificate signed by --server-ca and --server-ca-key;
--gen-ticket-key FILE a ticket key. Each writes and exits.`

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
	seed := fs.String("seed", "", "deprecated, use --seed-file: fixed master seed (32 hex digits; loopback only, tests: anyone knowing it knows all masks)")
	seedFile := fs.String("seed-file", "", "file holding a fixed master seed in hex (mode 0600; loopback --listen only; tests: anyone knowing it knows all masks)")
	maxSessions := fs.Int("max-sessions", dealer.DefaultMaxSessions, "maximum open sessions")
	grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM: report not ready, refuse new sessions, and let open sessions finish for this long before closing them")
	genCert := fs.String("gen-cert", "", "write a self-signed certificate and key to this directory and exit")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "with --gen-cert: comma-separated IPs and names the certificate is valid for")
	quiet := fs.Bool("quiet", false, "do not log sessions")
	logJSON := fs.Bool("log-json", false, "log sessions as JSON records (log/slog) instead of text")
	maxMem := fs.String("max-memory", "", "bound on the material held for parties that have not fetched it (e.g. 4GiB; default: a quarter of the RAM; off: none); a session that would exceed it waits --memory-wait, then fails")
	memWait := fs.Duration("memory-wait", dealer.DefaultMemoryWait, "how long a request waits for memory under --max-memory or --session-memory before its session fails")
	sessMem := fs.String("session-memory", "", "bound on one session's material waiting for its other party (default: half of --max-memory; off: none)")
	sessCPU := fs.Duration("session-cpu", dealer.DefaultMaxSessionCPU, "generation time one session may use; later requests that generate fail")
	idle := fs.Duration("idle-timeout", dealer.DefaultIdleTimeout, "end a session whose parties asked for no material for this long (pings do not count)")
	maxElems := fs.Int64("max-request-elems", dealer.DefaultMaxRequestElems, "largest request, in elements")
	maxMACs := fs.Int64("max-request-macs", dealer.DefaultMaxRequestMACs, "largest linear request, in multiply-adds")
	maxBytes := fs.String("max-request-bytes", "8GiB", "largest request, in encoded material of both parties")
	maxGen := fs.Int("max-generating", 0, "generations running at once (default: the number of CPUs)")
	maxPending := fs.Int("max-pending", dealer.DefaultMaxPending, "connections not yet in a session (TLS handshake, hello) at once; more are closed")
	maxPendingHost := fs.Int("max-pending-per-host", dealer.DefaultMaxPendingPerHost, "the same bound per source IP address")
	serverCA := fs.String("server-ca", "", "PEM CA whose client certificates admit model servers: only they may take the server role")
	serverCAKey := fs.String("server-ca-key", "", "with --gen-server-cert: the key of --server-ca")
	requirePlan := fs.Bool("require-plan", false, "serve a session's requests only after its server registered its plan (the requests of setup and of each inference, and how many inferences); a registered plan is enforced either way")
	ticketKey := fs.String("ticket-key", "", "file holding the join-ticket key shared with the model server (hex, at least 32 bytes, mode 0600): every party needs a ticket, except a server admitted by --server-ca")
	genServerCA := fs.String("gen-server-ca", "", "write a CA for model servers (ca.pem, ca-key.pem) to this directory and exit")
	genServerCert := fs.String("gen-server-cert", "", "write a model server's client certificate (client-cert.pem, client-key.pem), signed by --server-ca and --server-ca-key, to this directory and exit")
	genTicketKey := fs.String("gen-ticket-key", "", "write a new 32-byte ticket key to this file (mode 0600) and exit")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics (/metrics), /healthz and /readyz over HTTP on this address (host:port; keep it private)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	limit, err := sizeFlag("--max-memory", *maxMem, dealer.DefaultMaxMemory())
	if err != nil {
		return err
	}
	sessLimit, err := sizeFlag("--session-memory", *sessMem, 0)
	if err != nil {
		return err
	}
	reqBytes, err := sizeFlag("--max-request-bytes", *maxBytes, dealer.DefaultMaxRequestBytes)
	if err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--memory-wait", *memWait}, {"--session-cpu", *sessCPU}, {"--idle-timeout", *idle}} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be positive", d.name)
		}
	}
	if *maxElems <= 0 || *maxMACs <= 0 || *maxPending <= 0 || *maxPendingHost <= 0 {
		return errors.New("--max-request-elems, --max-request-macs, --max-pending and --max-pending-per-host must be positive")
	}
	switch {
	case *genCert != "":
		cert, key, err := secnet.GenerateSelfSigned(*genCert, strings.Split(*hosts, ","), 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s and %s (valid for %s)\n", cert, key, *hosts)
		return nil
	case *genServerCA != "":
		cert, key, err := secnet.GenerateCA(*genServerCA, "autorep model servers", 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s and %s: start the dealer with --server-ca %s; keep %s offline\n", cert, key, cert, key)
		return nil
	case *genServerCert != "":
		if *serverCA == "" || *serverCAKey == "" {
			return errors.New("--gen-server-cert needs --server-ca and --server-ca-key")
		}
		cert, key, err := secnet.IssueClientCert(*serverCA, *serverCAKey, *genServerCert, "autorep model server", 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s and %s: the model server presents them to the dealer\n", cert, key)
		return nil
	case *genTicketKey != "":
		if err := dealer.WriteSecretFile(*genTicketKey, 32); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s: give it to the dealer (--ticket-key) and the model server, nobody else\n", *genTicketKey)
		return nil
	}
	d, err := dealer.SeededGenerator(*listen, *seed, *seedFile, os.Stderr)
	if err != nil {
		return err
	}
	tk, err := dealer.ReadTicketKey("--ticket-key", *ticketKey, "--gen-ticket-key")
	if err != nil {
		return err
	}
	cfg, err := tf.config()
	if err != nil {
		return err
	}
	if *serverCA != "" {
		if cfg.Insecure {
			return errors.New("--server-ca needs TLS (not --insecure)")
		}
		cfg.ClientCAFile = *serverCA
	}
	ln, err := secnet.Listen(*listen, cfg, tf.options())
	if err != nil {
		return err
	}
	srv := &dealer.Server{Generator: d, MaxSessions: *maxSessions, Grace: *grace, MaxMemory: limit, MemoryWait: *memWait,
		MaxSessionHeld: sessLimit, MaxSessionCPU: *sessCPU, IdleTimeout: *idle, MaxGenerating: *maxGen,
		MaxRequestElems: *maxElems, MaxRequestMACs: *maxMACs, MaxRequestBytes: reqBytes,
		MaxPending: *maxPending, MaxPendingPerHost: *maxPendingHost,
		RequireServerCert: *serverCA != "", TicketKey: tk, RequirePlan: *requirePlan}
	if !*quiet {
		srv.Logger = processLogger("dealer", *logJSON)
	}
	ctx, stop := signalContext()
	defer stop()
	if *metricsAddr != "" {
		stopMetrics, err := serveMetrics("dealer", srv, *metricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
	}
	mode := "TLS"
	switch {
	case *tf.insecure:
		mode = "insecure, no TLS"
	case *serverCA != "":
		mode = "TLS, servers by certificate"
	}
	if tk != nil {
		mode += ", join tickets"
	}
	memNote := "no memory bound"
	if limit > 0 {
		memNote = "material held in memory ≤ " + dealer.FormatBytes(limit)
	}
	fmt.Fprintf(os.Stderr, "dealer: listening on %s (%s, %s)\n", ln.Addr(), mode, memNote)
	err = srv.Serve(ctx, ln)
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "dealer: stopped after %d party sessions, %d material bytes, %d sessions failed by the memory bound, refusals %v\n", st.Sessions, st.MaterialBytes, st.MemoryRefused, st.Refused)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// sizeFlag parses a size flag: empty gives def, "off"/"none" -1 (no bound).
func sizeFlag(name, v string, def int64) (int64, error) {
	switch strings.ToLower(v) {
	case "":
		return def, nil
	case "off", "none":
		return -1, nil
	}
	n, err := dealer.ParseBytes(v)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s: want a positive size such as 4GiB, or off (%q)", name, v)
	}
	return n, nil
}
