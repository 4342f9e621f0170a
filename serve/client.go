package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// ClientConfig says how a client reaches the server and the dealer.
type ClientConfig struct {
	// Server is the model server's address.
	Server string
	// Dealer is the dealer's address; empty means the one the server
	// advertises.
	Dealer string
	// Dial opens connections (secnet.Dial with the TLS settings).
	Dial DialFunc
	// Hash, if set, is the public-plan hash the client insists on (the
	// server refuses the session if it serves another model); otherwise
	// the client accepts the plan the server sends.
	Hash *[32]byte
	// Pool is the number of single-image inferences whose dealer material
	// is fetched when the session opens (default 1); later ones are
	// fetched one inference at a time before their online phase.
	Pool int
	// KeepAlive is the idle time after which the dealer connection is
	// pinged (default 30 s; negative: never).
	KeepAlive time.Duration
}

// Session is a client's open session with a server: one connection to
// the server, one to the dealer. Infer may be called repeatedly (not
// concurrently).
type Session struct {
	// ID is the dealer session id.
	ID dealer.SessionID
	// Public is the server's public plan.
	Public *pi.Public
	// DealerAddr is the dealer used.
	DealerAddr string
	// Connect describes opening the session (offline).
	Connect ConnectStats

	conn transport.Conn
	prov *dealer.Provider
	pic  *pi.Client
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
// dealer join, prefetch of Pool inferences' material, pi's setup.
func Dial(ctx context.Context, cfg ClientConfig) (*Session, error) {
	if cfg.Dial == nil {
		return nil, errors.New("serve: client has no dialer")
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
	return s, nil
}

func open(ctx context.Context, cfg ClientConfig, conn transport.Conn) (*Session, error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var want [32]byte
	if cfg.Hash != nil {
		want = *cfg.Hash
	}
	transport.SetPhase(conn, transport.PhaseOffline)
	if err := conn.Send(clientHello(want)); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: hello to %s: %w", cfg.Server, err))
	}
	b, err := conn.Recv()
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: hello to %s: %w", cfg.Server, err))
	}
	sid, advertised, planJSON, err := parseOK(b)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", cfg.Server, err)
	}
	s := &Session{ID: sid, conn: conn}
	pub, err := pi.UnmarshalPublic(planJSON)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", cfg.Server, err)
	}
	if h := pub.Hash(); cfg.Hash != nil && h != want {
		return nil, fmt.Errorf("serve: %s sent plan %x, expected %x", cfg.Server, h[:8], want[:8])
	}
	want = pub.Hash()
	s.Public = pub
	s.DealerAddr = cfg.Dealer
	if s.DealerAddr == "" {
		s.DealerAddr = advertised
	}
	if s.DealerAddr == "" {
		return nil, errors.New("serve: no dealer address (the server advertises none)")
	}
	dc, err := cfg.Dial(ctx, s.DealerAddr)
	if err != nil {
		return nil, fmt.Errorf("serve: dealer %s: %w", s.DealerAddr, err)
	}
	prov, err := dealer.Join(ctx, dc, mpc.Client, sid, want)
	if err != nil {
		dc.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	s.prov = prov
	prov.KeepAlive(keepAlive(cfg.KeepAlive))
	ok := false
	defer func() {
		if !ok {
			prov.Close()
		}
	}()
	s.pic = &pi.Client{Public: s.Public, Provider: prov}
	if err := s.pic.Connect(ctx, conn); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: %w", err))
	}
	infer := pi.InferenceRequests(s.Public, 1)
	prov.Refill = func() []mpc.Request { return infer }
	var reqs []mpc.Request
	for range max(cfg.Pool, 1) {
		reqs = append(reqs, infer...)
	}
	if err := prov.Prefetch(reqs); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("serve: %w", err))
	}
	s.Connect.Bytes = conn.Stats().Total().Bytes()
	s.Connect.Material = prov.Offline().Bytes
	ok = true
	return s, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Result is one private inference as seen by the client.
type Result struct {
	// Label is the argmax of Logits.
	Label int `json:"label"`
	// Logits are the revealed logits.
	Logits []float32 `json:"logits"`
	// Stats are pi's statistics of the request (online traffic and time,
	// offline time: fetching material left to fetch, waiting for the
	// server's readiness).
	Stats pi.Stats `json:"-"`
	// Material is the dealer material this inference used (encoded bytes,
	// client's half), whether prefetched or fetched now.
	Material int64 `json:"material_bytes"`
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
	used := s.prov.Used()
	logits, st, err := s.pic.Infer(ctx, s.conn, x)
	if err != nil {
		return nil, err
	}
	r := &Result{Logits: append([]float32(nil), logits.Data...), Stats: st, Material: s.prov.Used() - used}
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
	s.prov.Close()
	// Wait briefly for the server to close its side, so that it reads the
	// end of session before the connection goes away.
	done := make(chan struct{})
	go func() {
		for {
			if _, err := s.conn.Recv(); err != nil {
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
