package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

func init() {
	register("serve", "serve private inference of a model (dealer suite: needs a dealer; twoparty: none)", runServe)
}

const serveSummary = `Serve private inference of a model file to 'autorep infer' clients: the
client learns the logits of its image (or, with --output label or topk:K,
only its label or K best labels, by a secure argmax), the server learns
nothing about it.
--suite dealer (default): each client session uses a fresh session of the
dealer at --dealer (random id, material bound to it); --pool N keeps N
sessions ready, their dealer material (setup and one inference) fetched
before clients arrive, so a client mostly waits for the online phase.
--dealer-cert/--dealer-key present a client certificate to a dealer
started with --server-ca (dealer --gen-server-cert writes one), which then
admits this server's role without join tickets.
--suite twoparty: no third party (OT and HE between server and client; the
per-client setup runs when the client connects); --dealer, --advertise-dealer
and --pool do not apply; --ferret small|large trades offline bytes for CPU. --metrics serves Prometheus metrics, /healthz and
/readyz. --token-file admits only listed clients (lines NAME:SHA256HEX of
their tokens, optional sessions=N per-day=N), each within its quotas;
--gen-client-token FILE --client-name NAME writes a client's token and
prints its line. SIGINT/SIGTERM: report not ready and stop accepting; each open
session is closed after its next inference (or when it ends) within --grace,
then the rest are cancelled.`

func runServe(args []string) error {
	fs := newFlags("serve", "--model FILE --listen ADDR [--suite dealer --dealer ADDR | --suite twoparty] (--tls-cert FILE --tls-key FILE | --insecure)", serveSummary)
	modelPath := fs.String("model", "", "model file (.safetensors)")
	listen := fs.String("listen", "127.0.0.1:7002", "address to listen on (host:port; port 0 picks one)")
	suite := fs.String("suite", "dealer", "protocol suite: dealer (a third party supplies correlated randomness) or twoparty (no third party)")
	dealerAddr := fs.String("dealer", "127.0.0.1:7001", "dealer address (dealer suite; verified with --tls-ca/--tls-server-name)")
	advertise := fs.String("advertise-dealer", "", "dealer address sent to clients (dealer suite; default --dealer); clients that pin their dealer check it")
	pool := fs.Int("pool", 2, "dealer suite: sessions kept ready with their dealer material (0: fetch on demand)")
	dealerCert := fs.String("dealer-cert", "", "dealer suite: PEM client certificate presented to the dealer (dealer --gen-server-cert), admitting the server role at a dealer with --server-ca")
	dealerKey := fs.String("dealer-key", "", "PEM private key of --dealer-cert")
	output := fs.String("output", "logits", "what each client learns: logits, label (secure argmax, nothing else) or topk:K (the K best labels in order)")
	ticketKey := fs.String("dealer-ticket-key", "", "dealer suite: file of the join-ticket key shared with the dealer (dealer --ticket-key): the server joins with its ticket and issues each client its own")
	maxSessions := fs.Int("max-sessions", serve.DefaultMaxSessions, "maximum concurrent client sessions; more are refused with \"busy; retry after\"")
	maxPending := fs.Int("max-pending", serve.DefaultMaxPending, "connections still in their TLS handshake or hello at once; more are closed")
	maxPendingHost := fs.Int("max-pending-per-host", serve.DefaultMaxPendingPerHost, "the same bound per source IP address")
	maxImages := fs.Int("max-images", serve.DefaultMaxImages, "maximum images per inference request or twoparty prepare (a batch's material is held at once)")
	idle := fs.Duration("idle-timeout", serve.DefaultIdleTimeout, "close a session idle this long between requests (a client's opening prefetch of dealer material counts; negative: never)")
	maxInf := fs.Int("max-inferences", serve.DefaultMaxInferences, "maximum inference requests per session (negative: no limit)")
	grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM, time given to in-flight sessions")
	frac := fs.Uint("frac", 0, "fixed-point fractional bits (0: 16)")
	ell := fs.Int("ell", 0, "bit width of FSS gate inputs (0: 64)")
	pBits := fs.Int("pbits", 0, "twoparty suite: bit width of the HE prime of the polynomials, at most 50 (0: 3·frac+10, frac ≤ 13)")
	ferret := pi.AddFerretFlag(fs)
	quiet := fs.Bool("quiet", false, "do not log sessions")
	logJSON := fs.Bool("log-json", false, "log sessions as JSON records (log/slog) instead of text")
	tokenFile := fs.String("token-file", "", "serve only the clients listed in this file (NAME:SHA256HEX of the token, optional sessions=N per-day=N), refusing others before any session work")
	clientSessions := fs.Int("client-sessions", 4, "with --token-file: default sessions at once per client (0: no bound)")
	clientPerDay := fs.Int64("client-per-day", 0, "with --token-file: default images per client per UTC day, its query budget (0: no bound)")
	genToken := fs.String("gen-client-token", "", "write a new client token (32 random bytes, hex, mode 0600) to this file, print its --token-file line and exit")
	clientName := fs.String("client-name", "", "with --gen-client-token: the client's name in the line")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics (/metrics), /healthz and /readyz over HTTP on this address (host:port; keep it private)")
	tf := addTLSFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *genToken != "" {
		return genClientToken(*genToken, *clientName)
	}
	cfg, err := tf.config()
	if err != nil {
		return err // before any costly work
	}
	var clients *serve.Clients
	if *tokenFile != "" {
		if *clientSessions < 0 || *clientPerDay < 0 {
			return errors.New("--client-sessions and --client-per-day must not be negative (0: no bound)")
		}
		if clients, err = serve.LoadClients(*tokenFile, serve.Quota{Sessions: *clientSessions, PerDay: *clientPerDay}); err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
	} else if flagSet(fs, "client-sessions") || flagSet(fs, "client-per-day") {
		return errors.New("--client-sessions and --client-per-day need --token-file")
	}
	if *suite != "dealer" && *suite != "twoparty" {
		return fmt.Errorf("--suite %q: want dealer or twoparty", *suite)
	}
	if *maxImages < 1 || *maxImages > pi.MaxBatch {
		return fmt.Errorf("--max-images %d: want 1..%d", *maxImages, pi.MaxBatch)
	}
	if *idle == 0 || *maxInf == 0 {
		return errors.New("--idle-timeout and --max-inferences must not be 0 (negative: no limit)")
	}
	topK, err := pi.ParseOutput(*output)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	if (*dealerCert == "") != (*dealerKey == "") {
		return errors.New("--dealer-cert and --dealer-key go together")
	}
	if *dealerCert != "" {
		if cfg.Insecure {
			return errors.New("--dealer-cert needs TLS (not --insecure)")
		}
		if _, err := tls.LoadX509KeyPair(*dealerCert, *dealerKey); err != nil {
			return fmt.Errorf("--dealer-cert/--dealer-key: %w", err)
		}
	}
	if *suite == "twoparty" {
		for _, name := range []string{"dealer", "advertise-dealer", "pool", "dealer-ticket-key", "dealer-cert", "dealer-key"} {
			if flagSet(fs, name) {
				return fmt.Errorf("--%s: suite twoparty uses no dealer", name)
			}
		}
	}
	tk, err := dealer.ReadTicketKey("--dealer-ticket-key", *ticketKey, "dealer --gen-ticket-key")
	if err != nil {
		return err
	}
	if *modelPath == "" {
		fs.Usage()
		return errors.New("--model is required")
	}
	m, err := models.Load(*modelPath)
	if err != nil {
		return err
	}
	cfg0, err := pi.Config{FracBits: *frac, Ell: *ell, PBits: *pBits, OT: ferret.OT()}.ForSuite(*suite, "")
	if err != nil {
		return err
	}
	plan, err := pi.CompileOutput(m, cfg0, topK)
	if errors.As(err, new(*pi.OutputError)) {
		return fmt.Errorf("--output: %w", err)
	} else if err != nil {
		return err
	}
	opts := tf.options()
	ln, err := secnet.Listen(*listen, cfg, opts)
	if err != nil {
		return err
	}
	srv := &serve.Server{Plan: plan, Suite: *suite, MaxSessions: *maxSessions, Grace: *grace,
		MaxImages: *maxImages, IdleTimeout: *idle, MaxInferences: *maxInf, MaxPending: *maxPending, MaxPendingPerHost: *maxPendingHost, Clients: clients}
	where := "no dealer, OTs " + plan.Public.OT.String()
	if *suite == "dealer" {
		dcfg := cfg
		dcfg.ClientCertFile, dcfg.ClientKeyFile = *dealerCert, *dealerKey
		srv.Dealer = &serve.DealerConfig{Addr: *dealerAddr, Advertise: *advertise, Pool: *pool, TicketKey: tk,
			Dial: func(ctx context.Context, addr string) (transport.Conn, error) {
				return secnet.Dial(ctx, addr, dcfg, opts)
			}}
		where = fmt.Sprintf("dealer %s, pool %d", *dealerAddr, *pool)
	}
	if !*quiet {
		srv.Logger = processLogger("serve", *logJSON)
	}
	h := plan.PublicHash()
	relus, _ := plan.Public.ReLUs()
	fmt.Fprintf(os.Stderr, "serve: %s (%s, %d ReLUs), plan hash %s\n", *modelPath, m.Arch, relus, hex.EncodeToString(h[:]))
	fmt.Fprintf(os.Stderr, "serve: listening on %s, suite %s, %s, output %s\n", ln.Addr(), *suite, where, pi.OutputName(topK))
	ctx, stop := signalContext()
	defer stop()
	if *metricsAddr != "" {
		stopMetrics, err := serveMetrics("serve", srv, *metricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
	}
	err = srv.Serve(ctx, ln)
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "serve: stopped after %d sessions (%d failed), %d inferences\n", st.Sessions, st.Failed, st.Inferences)
	return err
}

// genClientToken writes a client token file and prints its token-file
// line (the hash only: the server never holds the token).
func genClientToken(path, name string) error {
	if name == "" {
		return errors.New("--gen-client-token needs --client-name")
	}
	line, err := serve.WriteClientToken(path, name)
	if err != nil {
		return err
	}
	fmt.Println(line)
	fmt.Fprintf(os.Stderr, "serve: client token for %s in %s (give it to the client: infer --token-file); add the line above to serve's --token-file\n", name, path)
	return nil
}

// flagSet reports whether the command line set flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
