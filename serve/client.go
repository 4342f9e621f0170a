package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// ClientConfig says how a client reaches the server and, in the dealer
// suite, which dealer it trusts.
type ClientConfig struct {
	// Server is the model server's address.
	Server string
	// Dial opens connections to the server (secnet.Dial with the TLS
	// settings that verify the server).
	Dial DialFunc
	// Suite, if set, is the protocol suite the client insists on ("dealer"
	// or "twoparty"); otherwise it runs the suite the server announces.
	Suite string
	// Dealer pins the dealer of the dealer suite: the session goes ahead
	// only if the server advertises exactly this address. The dealer sees
	// the client's input masks, so it must be one the client trusts not to
	// collude with the server, not one the server picks for it.
	Dealer string
	// DialDealer opens the dealer connection with the dealer's own TLS
	// settings (its CA and name: whoever vouches for the server must not
	// be able to impersonate the dealer); nil means Dial.
	DialDealer DialFunc
	// TrustServerDealer lets a client without Dealer use the dealer the
	// server advertises (the server could then run or choose a dealer that
	// tells it the client's masks); without either, a dealer-suite session
	// is refused.
	TrustServerDealer bool
	// Token is the client's credential for a server with Server.Clients
	// (at most MaxToken bytes; nil: none).
	Token []byte
	// Hash, if set, is the public-plan hash the client insists on (the
	// server refuses the session if it serves another model); otherwise
	// the client accepts the plan the server sends.
	Hash *[32]byte
	// Pool is, in the dealer suite, the number of single-image inferences
	// whose dealer material is fetched when the session opens (default
	// 1); later ones are fetched one inference at a time before their
	// online phase. In the twoparty suite, Pool ≥ 1 makes Dial run the
	// first inference's offline phase (Session.Prepare) once the session
	// is open, so that inference, when its image comes, runs the online
	// phase only; later inferences are prepared by calling Prepare between
	// them (the server holds one prepared inference per session). 0: each
	// inference runs its offline phase after its request.
	Pool int
	// KeepAlive is the idle time after which the dealer connection is
	// pinged (default 30 s; negative: never).
	KeepAlive time.Duration
}

// Session is a client's open session with a server: one connection to
// the server and, in the dealer suite, one to the dealer. Infer may be
// called repeatedly (not concurrently).
type Session struct {
	// ID is the session id (the dealer session's in the dealer suite).
	ID dealer.SessionID
	// Suite is the protocol suite the session runs.
	Suite string
	// Public is the server's public plan.
	Public *pi.Public
	// DealerAddr is the dealer used ("" in the twoparty suite).
	DealerAddr string
	// MaxInferences is the server's limit on this session's inferences
	// (0: none); Infer refuses beyond it (open a new session).
	MaxInferences int
	// IdleTimeout is how long the server keeps the session open between
	// requests (0: no limit; the bound before the first request is the
	// server's, usually longer).
	IdleTimeout time.Duration
	// Connect describes opening the session (offline).
	Connect ConnectStats

	conn  transport.Conn
	prov  *dealer.Remote // nil without a dealer
	pic   *pi.Client
	count int       // inferences run
	last  time.Time // end of the last request (or of the opening)
	ahead *pi.Stats // the prepare held for the next inference (Prepare)
}

// ConnectStats describes the opening of a session: handshakes, dealer
// join, material prefetch and pi's setup.
type ConnectStats struct {
	// Time is the wall time from dialing to a ready session.
	Time time.Duration `json:"time_ns"`
	// Bytes are both directions to the server during the opening
	// (handshake, plan, masked weights).
	Bytes int64 `json:"bytes"`
	// Material is the dealer material prefetched (encoded bytes).
	Material int64 `json:"material_bytes"`
}

// Dial opens a session: TLS connection and handshake with the server,
// then in the dealer suite the dealer join and the prefetch of Pool
// inferences' material, and pi's setup.
func Dial(ctx context.Context, cfg ClientConfig) (*Session, error) {
	if cfg.Dial == nil {
		return nil, errors.New("serve: client has no dialer")
	}
	if cfg.Suite != "" {
		if _, err := checkSuite(cfg.Suite); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	if len(cfg.Token) > MaxToken {
		return nil, fmt.Errorf("serve: client token of %d bytes, at most %d", len(cfg.Token), MaxToken)
	}
	t0 := time.Now()
	conn, err := cfg.Dial(ctx, cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("serve: server %s: %w", cfg.Server, err)
	}
	s, err := open(ctx, cfg, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.Connect.Time = time.Since(t0)
	if s.Suite == suiteTwoParty && cfg.Pool > 0 {
		if err := s.Prepare(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Prepare runs the offline phase of the session's next inference (one
// image) now, ahead of its image, in the twoparty suite: that inference
// then runs its online phase only, and its Result.Prepare describes this
// offline phase. The server holds one prepared inference per session:
// Prepare does nothing while one is held. The dealer suite fetches its
// material ahead through ClientConfig.Pool instead: Prepare does nothing
// there.
func (s *Session) Prepare(ctx context.Context) error {
	switch {
	case s.pic == nil:
		return errors.New("serve: session closed")
	case s.Suite != suiteTwoParty || s.ahead != nil:
		return nil
	case s.MaxInferences > 0 && s.count >= s.MaxInferences:
		return fmt.Errorf("serve: %w: the server allows %d inferences per session, all run; open a new session", ErrSessionLimit, s.MaxInferences)
	}
	st, err := s.pic.Prepare(ctx, s.conn, 1)
	s.last = time.Now()
	if err != nil {
		return fmt.Errorf("serve: prepare: %w", err)
	}
	s.ahead = &st
	return nil
}

// ErrSessionLimit is returned by Infer on a session the server ended or
// will end by its limits (Session.MaxInferences, Session.IdleTimeout).
var ErrSessionLimit = errors.New("session limit")

// ErrUntrustedDealer is returned when a dealer-suite session would use a
// dealer the client did not choose: one other than the pinned
// ClientConfig.Dealer, or the server's without TrustServerDealer.
var ErrUntrustedDealer = errors.New("untrusted dealer")

// chooseDealer returns the dealer a dealer-suite client joins, given the
// one the server advertises.
func chooseDealer(cfg ClientConfig, advertised string) (string, error) {
	switch {
	case cfg.Dealer != "" && advertised != cfg.Dealer:
		return "", fmt.Errorf("%w: the server uses dealer %q, this client pinned %q; refusing, since a dealer of the server's choosing may tell it the image's masks",
			ErrUntrustedDealer, advertised, cfg.Dealer)
	case cfg.Dealer != "":
		return cfg.Dealer, nil
	case advertised == "":
		return "", errors.New("no dealer address (the server advertises none)")
	case !cfg.TrustServerDealer:
		return "", fmt.Errorf("%w: the server advertises dealer %q; pin the dealer you trust not to collude with the server (--dealer with --dealer-ca), or accept the server's choice (--trust-server-dealer)",
			ErrUntrustedDealer, advertised)
	}
	return advertised, nil
}

// MaxAnswer bounds the server's answer to a client's hello, read under
// this limit: the answer is dominated by the public plan, whose ReLU
// masks take a bit per activation (WideResNet-22-8 at 64×64, 5.4 million
// activations, is under 1 MiB of JSON).
const MaxAnswer = 16 << 20

func open(ctx context.Context, cfg ClientConfig, conn transport.Conn) (*Session, error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var want [32]byte
	if cfg.Hash != nil {
		want = *cfg.Hash
	}
	transport.SetPhase(conn, transport.PhaseOffline)
	if err := conn.Send(clientHello(want, cfg.Suite, cfg.Token)); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: hello to %s: %w", cfg.Server, err))
	}
	// The answer carries the public plan: a longer frame is refused from
	// its header, not read into memory first.
	b, err := transport.RecvMax(conn, MaxAnswer)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: answer to the hello from %s: %w", cfg.Server, err))
	}
	ans, err := parseOK(b)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", cfg.Server, err)
	}
	suite, err := checkSuite(ans.suite)
	switch {
	case ans.suite == "":
		err = errors.New("the server names no suite")
	case err == nil && cfg.Suite != "" && cfg.Suite != suite:
		err = fmt.Errorf("client wants suite %s, server runs %s", cfg.Suite, suite)
	case err == nil && suite != suiteDealer && ans.dealer != "":
		err = fmt.Errorf("the server advertises a dealer in suite %s, which has none", suite)
	}
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", cfg.Server, err)
	}
	s := &Session{ID: ans.sid, Suite: suite, conn: conn, IdleTimeout: time.Duration(ans.limits.idleMS) * time.Millisecond}
	s.MaxInferences = int(min(ans.limits.inferences, math.MaxInt32))
	pub, err := pi.UnmarshalPublic(ans.plan)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", cfg.Server, err)
	}
	if h := pub.Hash(); cfg.Hash != nil && h != want {
		return nil, fmt.Errorf("serve: %s sent plan %x, expected %x", cfg.Server, h[:8], want[:8])
	}
	s.Public = pub
	var prov corr.Provider
	if suite == suiteDealer {
		if s.DealerAddr, err = chooseDealer(cfg, ans.dealer); err != nil {
			return nil, fmt.Errorf("serve: %s: %w", cfg.Server, err)
		}
		var ticket dealer.Ticket
		copy(ticket[:], ans.ticket)
		if s.prov, err = joinDealer(ctx, cfg, s.DealerAddr, s.ID, pub.Hash(), ticket); err != nil {
			return nil, err
		}
		prov = s.prov
		// The server compares the tag too: send it before our own check,
		// so a mismatch is logged on both sides.
		mine := s.prov.Tag()
		if err := conn.Send(tagMessage(mine)); err != nil {
			s.prov.Close()
			return nil, ctxErr(ctx, fmt.Errorf("serve: %s: %w", cfg.Server, err))
		}
		if err := checkTag(ans.tag, mine); err != nil {
			s.prov.Close()
			return nil, fmt.Errorf("serve: %s: dealer %s: %w", cfg.Server, s.DealerAddr, err)
		}
	}
	ok := false
	defer func() {
		if !ok && s.prov != nil {
			s.prov.Close()
		}
	}()
	s.pic = &pi.Client{Public: s.Public, Suite: suite, Provider: prov}
	if err := s.pic.Connect(ctx, conn); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: %w", err))
	}
	if s.prov != nil {
		infer := pi.InferenceRequests(s.Public, 1)
		s.prov.Refill = func() []corr.Request { return infer }
		var reqs []corr.Request
		for range max(cfg.Pool, 1) {
			reqs = append(reqs, infer...)
		}
		if err := s.prov.Prefetch(reqs); err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("serve: %w", err))
		}
		s.Connect.Material = s.prov.Offline().Bytes
	}
	s.Connect.Bytes = conn.Stats().Total().Bytes()
	s.last = time.Now()
	ok = true
	return s, nil
}

// ErrDealerSession is returned when the client's dealer join answered a
// session tag other than the server's: the parties reached different
// dealer sessions (two dealer replicas behind one name, a wrong pinned
// dealer), whose material would give wrong logits.
var ErrDealerSession = errors.New("different dealer sessions")

// checkTag compares the server's dealer session tag with the client's
// (on either side).
func checkTag(server []byte, client dealer.SessionTag) error {
	const prefix = 8 // bytes shown: enough to tell sessions apart in logs
	switch {
	case len(server) == 0:
		return fmt.Errorf("%w: the server sent no dealer session tag (client's %x…)", ErrDealerSession, client[:prefix])
	case !bytes.Equal(server, client[:]):
		return fmt.Errorf("%w: the server's dealer session tag is %x…, the client's %x…", ErrDealerSession, server[:prefix], client[:prefix])
	}
	return nil
}

// joinDealer joins the dealer session sid at addr as the client, with the
// ticket the server issued (zero: none).
func joinDealer(ctx context.Context, cfg ClientConfig, addr string, sid dealer.SessionID, hash [32]byte, ticket dealer.Ticket) (*dealer.Remote, error) {
	dial := cfg.DialDealer
	if dial == nil {
		dial = cfg.Dial
	}
	dc, err := dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("serve: dealer %s: %w", addr, err)
	}
	prov, err := dealer.JoinTicket(ctx, dc, mpc.Client, sid, hash, ticket)
	if err != nil {
		dc.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	prov.KeepAlive(keepAlive(cfg.KeepAlive))
	return prov, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Result is one private inference as seen by the client.
type Result struct {
	// Label is the argmax of the logits (ties: the lowest class).
	Label int `json:"label"`
	// Logits are the revealed logits (logits output mode only).
	Logits []float32 `json:"logits,omitempty"`
	// Labels are the K best classes, best first, when the server's plan
	// reveals only them (pi.Public.TopK = K ≥ 1; Label is Labels[0]).
	Labels []int `json:"labels,omitempty"`
	// Stats are pi's statistics of the request (online traffic and time,
	// offline time: fetching material left to fetch, waiting for the
	// server's readiness).
	Stats pi.Stats `json:"-"`
	// Material is the dealer material this inference used (encoded bytes,
	// client's half), whether prefetched or fetched now.
	Material int64 `json:"material_bytes"`
	// Prepare describes the offline phase run ahead of this inference
	// (Session.Prepare; twoparty suite), nil if none: Stats' offline
	// figures are then the request message's alone.
	Prepare *pi.Stats `json:"-"`
}

// Infer runs private inference on one normalised image x [1, C, H, W].
func (s *Session) Infer(ctx context.Context, x *tensor.Tensor) (*Result, error) {
	if s.pic == nil {
		return nil, errors.New("serve: session closed")
	}
	if x == nil || len(x.Shape) != 4 || x.Shape[0] != 1 {
		return nil, fmt.Errorf("serve: Infer takes one image [1, C, H, W], got shape %v", shapeOf(x))
	}
	in := s.Public.Input
	if x.Shape[1] != in[0] || x.Shape[2] != in[1] || x.Shape[3] != in[2] {
		return nil, fmt.Errorf("serve: image of shape %v, the model takes %v", x.Shape[1:], in)
	}
	if s.MaxInferences > 0 && s.count >= s.MaxInferences {
		return nil, fmt.Errorf("serve: %w: the server allows %d inferences per session; open a new session", ErrSessionLimit, s.MaxInferences)
	}
	var used int64
	if s.prov != nil {
		used = s.prov.Used()
	}
	idle := time.Since(s.last)
	logits, st, err := s.pic.Infer(ctx, s.conn, x)
	s.last = time.Now()
	ahead := s.ahead
	s.ahead = nil // used, or dropped by pi
	if err != nil {
		if s.count > 0 && s.IdleTimeout > 0 && idle >= s.IdleTimeout {
			return nil, fmt.Errorf("serve: %w: idle for %v, the server closes sessions idle for %v; open a new session (%v)", ErrSessionLimit, idle.Round(time.Millisecond), s.IdleTimeout, err)
		}
		return nil, err
	}
	s.count++
	r := &Result{Stats: st}
	if st.Prepared {
		r.Prepare = ahead
	}
	if s.prov != nil {
		r.Material = s.prov.Used() - used
	}
	if s.Public.TopK > 0 { // pi returned the labels [1, K]
		for _, v := range logits.Data {
			r.Labels = append(r.Labels, int(v))
		}
		r.Label = r.Labels[0]
		return r, nil
	}
	r.Logits = append([]float32(nil), logits.Data...)
	for i, v := range r.Logits {
		if v > r.Logits[r.Label] {
			r.Label = i
		}
	}
	return r, nil
}

func shapeOf(x *tensor.Tensor) []int {
	if x == nil {
		return nil
	}
	return x.Shape
}

// Close ends the session (the server's side finishes cleanly) and closes
// both connections.
func (s *Session) Close() error {
	if s.pic == nil {
		return nil
	}
	err := s.pic.Close()
	s.pic = nil
	if s.prov != nil {
		s.prov.Close()
	}
	// Wait briefly for the server to close its side, so that it reads the
	// end of session before the connection goes away.
	done := make(chan struct{})
	go func() {
		for {
			// Nothing but the closure is expected: a frame above the
			// handshake size ends the wait unread, as the closure does.
			if _, err := transport.RecvMax(s.conn, transport.HandshakeMaxFrame); err != nil {
				break
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	s.conn.Close()
	<-done
	return err
}

// HashHex parses a hex public-plan hash (as printed by serve).
func HashHex(s string) (*[32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return nil, fmt.Errorf("plan hash %q: want 64 hex digits", s)
	}
	for i := range h {
		var v byte
		for j := 0; j < 2; j++ {
			c := s[2*i+j]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return nil, fmt.Errorf("plan hash %q: not hex", s)
			}
		}
		h[i] = v
	}
	return &h, nil
}
