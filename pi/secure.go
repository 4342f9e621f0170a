package pi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/autorep/autorep/mpc/dealer"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// Wire messages of the pi session protocol (besides the mpc protocol
// messages). All are small and strictly parsed.
const (
	msgHello   = "PIH1" // client → server: magic + 32-byte public hash (all zero: send me the plan); the dealer suite
	msgHello2  = "PIH2" // client → server: as msgHello + ℓ (1 byte, 0: plan unknown) + suite name, for the other suites
	msgOK      = "PIOK" // server → client: accepted [+ public plan]
	msgError   = "PIER" // server → client: refused + reason
	msgRequest = "PIQ1" // client → server: uvarint number of images (0 = end of session)
	msgPrepare = "PIP1" // client → server: uvarint number of images whose offline phase runs now (Client.Prepare)
	msgReady   = "PIRD" // server → client: per-inference material fetched
)

// MaxBatch bounds the number of images of one inference request.
const MaxBatch = 4096

// DefaultMaxImages is the server's default bound on the images of one
// request (Server.MaxImages).
const DefaultMaxImages = 64

// maxBatchElems bounds the activation values of one request.
const maxBatchElems = 1 << 28

// secureBackend evaluates steps on shares through an mpc.Session, with
// the party's dealer material from src: the run's one prefetch queue
// (corr.WithPrefetch of the party's Provider), which the per-request
// offline phase fills and the protocols take from.
type secureBackend struct {
	s      *mpc.Session
	src    corr.Prefetching
	pub    *Public
	layers []mpc.Layer // per step (compileLayers)
	lin    map[int]*mpc.LinearKey
	poly   map[int]*mpc.PolyKey
}

// newSecureBackend compiles the steps' layer objects and runs the
// once-per-session setup of every linear and polynomial step (sec is nil
// for the client).
func newSecureBackend(s *mpc.Session, src corr.Prefetching, pub *Public, sec *Secret) (*secureBackend, error) {
	if pub.Poly != "" {
		return nil, fmt.Errorf("pi: the dealer suite computes the default polynomial form, not %q", pub.Poly)
	}
	if src.Party() != s.Party {
		return nil, fmt.Errorf("pi: the %v's provider serves the %v", s.Party, src.Party())
	}
	layers, err := compileLayers(pub)
	if err != nil {
		return nil, err
	}
	b := &secureBackend{s: s, src: src, pub: pub, layers: layers, lin: map[int]*mpc.LinearKey{}, poly: map[int]*mpc.PolyKey{}}
	s.Gates = dealerGates
	for i := range pub.Steps {
		st := &pub.Steps[i]
		transport.SetLayer(s.Conn, st.Name)
		switch l := layers[i].(type) {
		case *mpc.LinearLayer:
			var w, bias []uint64
			if sec != nil {
				w, bias = sec.Steps[i].W, sec.Steps[i].Bias
			}
			k, err := s.SetupLinear(src, l.Label, l.Spec, w, bias)
			if err != nil {
				return nil, fmt.Errorf("pi: setup %q: %w", st.Name, err)
			}
			b.lin[i] = k
		case *mpc.ActLayer:
			if st.ReLUs == st.Positions() {
				continue
			}
			var coef mpc.PolyCoefs
			if sec != nil {
				coef = sec.Steps[i].Coef
			}
			k, err := s.SetupPolyCoefs(src, l.PolyLabel, l.Spec.C, coef)
			if err != nil {
				return nil, fmt.Errorf("pi: setup %q: %w", st.Name, err)
			}
			b.poly[i] = k
		}
	}
	transport.SetLayer(s.Conn, "")
	return b, nil
}

// preopen moves the client's half of the opening of every activation step
// whose input is a linear step's output to the offline phase
// (mpc.Session.PreopenAct): online, those steps then cost 8 B per position
// from the server only. Both parties call it once per request, after the
// prefetch and before the input is shared, in step order. The value the
// client sends is its share of the linear output masked by the
// activation's dealer mask; neither depends on the input (docs/PROTOCOLS.md,
// "Preopening"). It fetches no material beyond the request's own: a lazy
// client fetches the preopened layers' linear and activation material
// first, which keeps each (kind, label)'s order, all the dealers pair by.
func (b *secureBackend) preopen(n int) error {
	for i := range b.pub.Steps {
		st := &b.pub.Steps[i]
		l, ok := b.layers[i].(*mpc.ActLayer)
		if !ok || len(st.In) != 1 || st.In[0] < 0 || b.lin[st.In[0]] == nil {
			continue
		}
		k := *b.lin[st.In[0]]
		k.Spec.N = n
		transport.SetLayer(b.s.Conn, st.Name)
		if err := b.s.PreopenAct(b.src, &k, l.Label, b.poly[i], l.Batch(n)); err != nil {
			return fmt.Errorf("pi: preopen %q: %w", st.Name, err)
		}
	}
	transport.SetLayer(b.s.Conn, "")
	return nil
}

// needs lists the requests of one inference of n images.
func (b *secureBackend) needs(n int) []corr.Request {
	return append(mpc.Needs(b.layers, n), argmaxRequests(b.pub, n)...)
}

func polyLabel(st *Step) string { return st.Name + "/poly" }

// begin attributes the traffic of the next step to its name.
func (b *secureBackend) begin(st *Step) { transport.SetLayer(b.s.Conn, st.Name) }

func (b *secureBackend) linear(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	k := *b.lin[i]
	k.Spec.N = n
	return b.s.Linear(b.src, &k, x)
}

func (b *secureBackend) act(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	l := b.layers[i].(*mpc.ActLayer)
	return b.s.Act(b.src, l.Label, b.poly[i], l.Batch(n), x)
}

func (b *secureBackend) maxPool(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	l := b.layers[i].(*mpc.MaxPoolLayer)
	return b.s.MaxPool(b.src, l.Label, l.Batch(n), x)
}

func (b *secureBackend) trunc(i int, st *Step, x []uint64) ([]uint64, error) {
	if st.Mul != 1 {
		x = mpc.Scale(x, st.Mul)
	}
	return fssgates.Trunc(b.s, b.src, st.Name, x, st.Shift, b.s.Ell)
}

// Server is the model owner's side of private inference.
type Server struct {
	// Plan is the compiled model (public part and secrets).
	Plan *Plan
	// Provider supplies the server's correlated randomness (corr.Provider
	// of party mpc.Server: the in-process dealer or a network dealer);
	// required by the dealer suite only (ignored by SuiteTwoParty).
	Provider corr.Provider
	// Suite is the protocol suite served (SuiteDealer or SuiteTwoParty;
	// "" is SuiteDealer). A client asking for another suite is refused.
	Suite string
	// OnInference, if set, is called after each served request with the
	// server's statistics of it.
	OnInference func(Stats)
	// OnRequest, if set, is called when a request of n images has arrived,
	// before its offline phase, and when a prepare (Client.Prepare) of n
	// images is accepted: from then until OnInference (OnPrepare for a
	// prepare, or the session's end) the server is working, not waiting
	// for its client.
	OnRequest func(n int)
	// OnPrepare, if set, is called after each accepted prepare's offline
	// phase with the server's statistics of it (Images, OfflineMsgs,
	// OfflineTime).
	OnPrepare func(Stats)
	// MaxImages bounds the images of one request (the dealer material of
	// a request is held in memory); 0 means DefaultMaxImages, and
	// MaxBatch is the hard limit.
	MaxImages int
	// Lazy skips the prefetch of per-inference material: it is fetched
	// layer by layer during the online phase (bounded memory for large
	// networks; the online time then includes the dealer's work). With
	// the in-process dealer.Pairing both parties then ask for each item at about
	// the same time, and the Pairing may generate it twice and keep the
	// unclaimed copies; prefer it with a network dealer.
	Lazy bool
}

// Run serves one client session on conn: the handshake (the client's
// public-plan hash must match, or the client asks for the public plan),
// the once-per-session setup (offline phase), then inference requests
// until the client ends the session (Run returns nil) or an error occurs.
// Cancelling ctx closes conn.
func (sv *Server) Run(ctx context.Context, conn transport.Conn) error {
	if err := sv.Plan.check(); err != nil {
		return err
	}
	if err := sv.Plan.Public.Validate(); err != nil {
		return err
	}
	if err := ValidSuite(sv.Suite); err != nil {
		return err
	}
	if err := checkPlanSuite("server", sv.Suite, sv.Plan.Public); err != nil {
		return err
	}
	if suiteName(sv.Suite) == SuiteDealer && sv.Provider == nil {
		return errors.New("pi: server has no provider (the dealer suite needs one)")
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err := sv.run(conn)
	if ctx.Err() != nil {
		return fmt.Errorf("pi: server: %w", ctx.Err())
	}
	return err
}

func (sv *Server) run(conn transport.Conn) error {
	pub := sv.Plan.Public
	transport.SetPhase(conn, transport.PhaseOffline)
	if err := sv.handshake(conn, pub); err != nil {
		return err
	}
	if suiteName(sv.Suite) == SuiteTwoParty {
		return sv.runTwoParty(conn)
	}
	s, err := mpc.NewSession(mpc.Server, conn, pub.Frac)
	if err != nil {
		return err
	}
	s.Ell = pub.Ell
	b, err := newSecureBackend(s, corr.WithPrefetch(sv.Provider), pub, sv.Plan.Secret)
	if err != nil {
		return err
	}
	return sv.serve(conn, &dealerRun{secureBackend: b, lazy: sv.Lazy})
}

// suiteRun is what the request loop (Server.serve, Client.infer) needs of
// a suite beyond the step protocols.
type suiteRun interface {
	backend
	argmaxGates
	// stepLayers are the plan steps' layer objects (for the statistics).
	stepLayers() []mpc.Layer
	// provider is the party's dealer provider (nil: no dealer material).
	provider() corr.Provider
	// offline runs the per-request offline phase after the request:
	// the dealer suite's material prefetch and preopening.
	offline(conn transport.Conn, n int) error
	// input shares the client's encoded input (nil for the server) of
	// size values.
	input(in []uint64, size int) ([]uint64, error)
	// reveal opens the output shares to the client (the server gets nil).
	reveal(y []uint64) ([]uint64, error)
}

// dealerRun is the dealer suite's suiteRun.
type dealerRun struct {
	*secureBackend
	lazy bool
}

func (r *dealerRun) stepLayers() []mpc.Layer { return r.layers }
func (r *dealerRun) provider() corr.Provider { return r.src }
func (r *dealerRun) reveal(y []uint64) ([]uint64, error) {
	return r.s.RevealToClient("output", y)
}

func (r *dealerRun) input(in []uint64, size int) ([]uint64, error) {
	return r.s.ShareInput(in, size)
}

// offline fetches the request's material into the run's one queue
// (r.src.Prefetch: only what it lacks, e.g. not what a network dealer
// session pooled ahead) and preopens. The server tells the client when its material is fetched;
// the client fetches after the server's: with an in-process dealer
// (dealer.Pairing) the halves are then generated once, whereas two parties asking
// for the same item at the same moment both generate it.
func (r *dealerRun) offline(conn transport.Conn, n int) error {
	server := r.s.Party == mpc.Server
	if !server {
		ready, err := transport.RecvMax(conn, len(msgReady))
		if err != nil {
			return fmt.Errorf("waiting for the server: %w", err)
		}
		if string(ready) != msgReady {
			return errors.New("malformed ready message")
		}
	}
	if !r.lazy {
		if err := r.src.Prefetch(r.needs(n)); err != nil {
			return fmt.Errorf("offline: %w", err)
		}
	}
	if server {
		if err := conn.Send([]byte(msgReady)); err != nil {
			return err
		}
	}
	if err := r.preopen(n); err != nil {
		return fmt.Errorf("offline: %w", err)
	}
	return nil
}

// twoPartyRun is the two-party suite's suiteRun: the per-request offline
// phase precomputes the HE work of the linear and PolyHE steps and the
// bit triples (twoPartyBackend.precompute), which the steps with
// comparisons take (twoparty_triples.go); the client's share of the
// input is the input, the server's zero.
type twoPartyRun struct{ *twoPartyBackend }

func (r twoPartyRun) stepLayers() []mpc.Layer { return r.layers }
func (r twoPartyRun) provider() corr.Provider { return nil }
func (r twoPartyRun) offline(_ transport.Conn, n int) error {
	if err := r.precompute(n); err != nil {
		return fmt.Errorf("offline: %w", err)
	}
	return nil
}
func (r twoPartyRun) input(in []uint64, size int) ([]uint64, error) {
	return r.inputShares(in, size), nil
}

// serve answers requests (and prepares) until the client ends the
// session.
func (sv *Server) serve(conn transport.Conn, r suiteRun) error {
	pub := sv.Plan.Public
	prepared := 0 // images of the prepared request (0: none)
	for {
		transport.SetPhase(conn, transport.PhaseOffline)
		n, prepare, err := recvRequest(conn, pub, sv.maxImages())
		if err != nil {
			return err
		}
		if prepare {
			if prepared, err = sv.prepare(conn, r, n, prepared); err != nil {
				return err
			}
			continue
		}
		if n == 0 {
			return nil
		}
		if sv.OnRequest != nil {
			sv.OnRequest(n)
		}
		st := newStatsRecorder(conn, pub, r, n)
		t0 := time.Now()
		// A prepare of another size is dropped: offline replaces it.
		ahead := n == prepared
		prepared = 0
		if !ahead {
			if err := r.offline(conn, n); err != nil {
				return fmt.Errorf("pi: server: %w", err)
			}
		}
		st.offlineDone(time.Since(t0))
		st.stats.Prepared = ahead
		transport.SetPhase(conn, transport.PhaseOnline)
		t1 := time.Now()
		y, err := r.input(nil, n*pub.InputLen())
		if err == nil {
			y, err = execute(pub, r, n, y, st.hook)
		}
		if err == nil {
			y, err = runTopK(r, conn, pub, n, y, st)
		}
		if err != nil {
			return fmt.Errorf("pi: server: %w", err)
		}
		transport.SetLayer(conn, "output")
		if _, err := r.reveal(y); err != nil {
			return fmt.Errorf("pi: server: output: %w", err)
		}
		transport.SetLayer(conn, "")
		if sv.OnInference != nil {
			sv.OnInference(st.finish(time.Since(t1)))
		}
	}
}

// handshake reads the client's hello and answers it: the suites must be
// the same, and the client's public-plan hash must match ours (or the
// client asks for the public plan).
func (sv *Server) handshake(conn transport.Conn, pub *Public) error {
	hello, err := transport.RecvMax(conn, transport.HandshakeMaxFrame)
	if err != nil {
		return fmt.Errorf("pi: server: handshake: %w", err)
	}
	got, suite, ell, err := parseHello(hello)
	if err != nil {
		conn.Send([]byte(msgError + "malformed hello"))
		return fmt.Errorf("pi: server: %w", err)
	}
	if ours := suiteName(sv.Suite); suite != ours {
		msg := fmt.Sprintf("client wants suite %s, server runs %s", suite, ours)
		conn.Send([]byte(msgError + msg))
		return fmt.Errorf("pi: server: %s", msg)
	}
	if ell != 0 && ell != effEll(pub.Ell) {
		msg := fmt.Sprintf("client's suite %s runs at ℓ = %d, server's plan at ℓ = %d", suite, ell, effEll(pub.Ell))
		conn.Send([]byte(msgError + msg))
		return fmt.Errorf("pi: server: %s", msg)
	}
	want := pub.Hash()
	reply := []byte(msgOK)
	if bytes.Equal(got, make([]byte, 32)) {
		b, err := pub.MarshalBinary()
		if err != nil {
			return err
		}
		reply = append(reply, b...)
	} else if !bytes.Equal(got, want[:]) {
		conn.Send([]byte(msgError + "public plan mismatch" + planOTNote(pub, "the server's")))
		return fmt.Errorf("pi: server: client's public plan %x differs from ours %x%s", got[:8], want[:8], planOTNote(pub, "our"))
	}
	if err := conn.Send(reply); err != nil {
		return fmt.Errorf("pi: server: handshake: %w", err)
	}
	return nil
}

// maxSuiteName bounds the suite name of a hello.
const maxSuiteName = 32

// appendHello appends the client's hello for suite (ell 0: plan not known
// yet) and public-plan hash h (all zero: send me the plan). The dealer
// suite keeps the original 36-byte hello, so its setup bytes are unchanged.
func appendHello(b []byte, suite string, ell int, h []byte) []byte {
	if suiteName(suite) == SuiteDealer {
		return append(append(b, msgHello...), h...)
	}
	b = append(append(b, msgHello2...), h...)
	return append(append(b, byte(ell)), suite...)
}

// parseHello reads a hello: the public-plan hash, the suite and ℓ (0 when
// the hello does not give it).
func parseHello(m []byte) (hash []byte, suite string, ell int, err error) {
	switch {
	case len(m) == len(msgHello)+32 && string(m[:4]) == msgHello:
		return m[4:], SuiteDealer, 0, nil
	case len(m) > len(msgHello2)+33 && len(m) <= len(msgHello2)+33+maxSuiteName && string(m[:4]) == msgHello2:
		suite = string(m[37:])
		if ValidSuite(suite) != nil || suite == "" {
			return nil, "", 0, fmt.Errorf("hello names an unknown suite %q", suite)
		}
		ell = int(m[36])
		if ell > 64 {
			return nil, "", 0, fmt.Errorf("hello gives ℓ = %d", ell)
		}
		return m[4:36], suite, ell, nil
	}
	return nil, "", 0, fmt.Errorf("malformed hello of %d bytes", len(m))
}

// effEll is a plan's gate width (0 means 64).
func effEll(ell int) int {
	if ell == 0 {
		return 64
	}
	return ell
}

// runTwoParty serves a session of the two-party suite: the setup (base
// OTs, the client's HE key), then requests until the client ends the
// session.
func (sv *Server) runTwoParty(conn transport.Conn) error {
	b, err := newTwoPartyBackend(conn, sv.Plan.Public, sv.Plan.Secret, tpServer)
	if err != nil {
		return err
	}
	return sv.serve(conn, twoPartyRun{b})
}

func (sv *Server) maxImages() int {
	if sv.MaxImages <= 0 {
		return DefaultMaxImages
	}
	return min(sv.MaxImages, MaxBatch)
}

// maxHandshakeReply bounds the server's handshake reply, which carries
// the public plan when the client asks for it (ResNet-18's is under
// 1 MiB): a peer cannot make the client read or allocate more.
const maxHandshakeReply = 16 << 20

// recvRequest reads an inference request, the number of images (0 = end,
// at most limit), or a prepare (prepare true; n is then ≥ 1 and at most
// MaxBatch+1, left to the caller to check against limit: a prepare out of
// bounds is refused, not a reason to end the session).
func recvRequest(conn transport.Conn, pub *Public, limit int) (n int, prepare bool, err error) {
	m, err := transport.RecvMax(conn, len(msgRequest)+binary.MaxVarintLen64)
	if err != nil {
		return 0, false, fmt.Errorf("pi: server: waiting for a request: %w", err)
	}
	if len(m) < 5 || string(m[:4]) != msgRequest && string(m[:4]) != msgPrepare {
		return 0, false, fmt.Errorf("pi: server: malformed request of %d bytes", len(m))
	}
	prepare = string(m[:4]) == msgPrepare
	v, k := binary.Uvarint(m[4:])
	if k <= 0 || 4+k != len(m) || prepare && v == 0 {
		return 0, false, fmt.Errorf("pi: server: malformed request")
	}
	if prepare {
		return int(min(v, MaxBatch+1)), true, nil
	}
	if err := checkImages(pub, v, limit); err != nil {
		return 0, false, fmt.Errorf("pi: server: %w", err)
	}
	return int(v), false, nil
}

// checkImages bounds the images of a request (or prepare) of n images
// by the server's limit and maxBatchElems.
func checkImages(pub *Public, n uint64, limit int) error {
	if n > uint64(limit) {
		return fmt.Errorf("request for %d images, at most %d", n, limit)
	}
	for i := range pub.Steps {
		if int(n)*pub.Steps[i].Positions() > maxBatchElems {
			return fmt.Errorf("request for %d images is too large", n)
		}
	}
	return nil
}

// Client is the image owner's side of private inference. One Client serves
// one session (one connection); Infer may be called many times.
type Client struct {
	// Public is the public plan; if nil, the first Infer fetches it from
	// the server.
	Public *Public
	// Provider supplies the client's correlated randomness (party
	// mpc.Client); required by the dealer suite only.
	Provider corr.Provider
	// Suite is the protocol suite asked for in the handshake (SuiteDealer
	// or SuiteTwoParty; "" is SuiteDealer).
	Suite string
	// Lazy skips the prefetch of per-inference material (see Server.Lazy).
	Lazy bool

	conn     transport.Conn
	be       *secureBackend   // dealer suite
	tp       *twoPartyBackend // two-party suite
	broken   error
	prepared int // images of the prepared request (Prepare; 0: none)
	// Setup describes the session setup (after Connect).
	Setup SetupStats
}

// SetupStats describes the once-per-session setup as seen by the client.
type SetupStats struct {
	// Offline are the setup messages in both directions: the handshake,
	// then the dealer suite's masked weights and coefficients or the
	// two-party suite's base OTs and HE public key.
	Offline transport.Counts `json:"offline"`
	// Material is the dealer material received for the setup (bytes; 0
	// for the two-party suite).
	Material int64 `json:"material_bytes"`
	// Time is the setup's wall time.
	Time time.Duration `json:"time_ns"`
}

// Connect runs the handshake and the session setup on conn (Infer calls it
// on first use).
func (c *Client) Connect(ctx context.Context, conn transport.Conn) error {
	if c.conn != nil {
		if c.conn != conn {
			return errors.New("pi: client is already connected to another peer")
		}
		return nil
	}
	if err := ValidSuite(c.Suite); err != nil {
		return err
	}
	dealer := suiteName(c.Suite) == SuiteDealer
	if dealer && c.Provider == nil {
		return errors.New("pi: client has no provider (the dealer suite needs one)")
	}
	if c.Public != nil {
		if err := checkPlanSuite("client", c.Suite, c.Public); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	t0 := time.Now()
	before := conn.Stats().Total()
	var mat0 int64
	if dealer {
		mat0 = c.Provider.Offline().Bytes
	}
	transport.SetPhase(conn, transport.PhaseOffline)
	var hello []byte
	if c.Public != nil {
		if err := c.Public.Validate(); err != nil {
			return err
		}
		h := c.Public.Hash()
		hello = appendHello(nil, c.Suite, effEll(c.Public.Ell), h[:])
	} else {
		hello = appendHello(nil, c.Suite, 0, make([]byte, 32))
	}
	if err := conn.Send(hello); err != nil {
		return ctxErr(ctx, fmt.Errorf("pi: client: handshake: %w", err))
	}
	reply, err := transport.RecvMax(conn, maxHandshakeReply)
	if err != nil {
		return ctxErr(ctx, fmt.Errorf("pi: client: handshake: %w", err))
	}
	switch {
	case len(reply) >= 4 && string(reply[:4]) == msgError:
		return fmt.Errorf("pi: client: server refused: %q%s", reply[4:min(len(reply), 200)], planOTNote(c.Public, "the client's"))
	case len(reply) < 4 || string(reply[:4]) != msgOK:
		return fmt.Errorf("pi: client: malformed handshake reply")
	}
	if c.Public == nil {
		p, err := UnmarshalPublic(reply[4:])
		if err == nil {
			err = checkPlanSuite("client", c.Suite, p)
		}
		if err != nil {
			return fmt.Errorf("pi: client: server's plan: %w", err)
		}
		c.Public = p
	} else if len(reply) != 4 {
		return fmt.Errorf("pi: client: malformed handshake reply")
	}
	if !dealer {
		b, err := newTwoPartyBackend(conn, c.Public, nil, tpClient)
		if err != nil {
			return ctxErr(ctx, err)
		}
		c.conn, c.tp = conn, b
		c.Setup = SetupStats{Offline: sub(conn.Stats().Total(), before), Time: time.Since(t0)}
		return nil
	}
	if c.Provider == nil {
		return errors.New("pi: client has no provider (the dealer suite needs one)")
	}
	s, err := mpc.NewSession(mpc.Client, conn, c.Public.Frac)
	if err != nil {
		return err
	}
	s.Ell = c.Public.Ell
	b, err := newSecureBackend(s, corr.WithPrefetch(c.Provider), c.Public, nil)
	if err != nil {
		return ctxErr(ctx, err)
	}
	c.conn, c.be = conn, b
	c.Setup = SetupStats{Offline: sub(conn.Stats().Total(), before), Material: c.Provider.Offline().Bytes - mat0, Time: time.Since(t0)}
	return nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Infer runs private inference on normalised images x [N, C, H, W] and
// returns the logits [N, Classes] — or, when the plan's output mode is
// top-k (Public.TopK = K ≥ 1), only the K best class numbers of each
// image, largest logit first, as [N, K] — and the client's statistics. The first
// call on a connection runs Connect. Cancelling ctx closes conn.
func (c *Client) Infer(ctx context.Context, conn transport.Conn, x *tensor.Tensor) (*tensor.Tensor, Stats, error) {
	if err := c.Connect(ctx, conn); err != nil {
		return nil, Stats{}, err
	}
	if c.conn != conn {
		return nil, Stats{}, errors.New("pi: client is connected to another peer")
	}
	pub := c.Public
	in, n, err := pub.EncodeInput(x)
	if err != nil {
		return nil, Stats{}, err
	}
	if n > MaxBatch {
		return nil, Stats{}, fmt.Errorf("pi: %d images, at most %d per request", n, MaxBatch)
	}
	if c.broken != nil {
		return nil, Stats{}, fmt.Errorf("pi: client: session failed earlier: %w", c.broken)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	logits, st, err := c.infer(ctx, conn, in, n)
	if err != nil {
		c.broken = err // the peers are out of step: no further requests
		return nil, Stats{}, err
	}
	return logits, st, nil
}

// infer runs one request on the connected session.
func (c *Client) infer(ctx context.Context, conn transport.Conn, in []uint64, n int) (*tensor.Tensor, Stats, error) {
	var r suiteRun = twoPartyRun{c.tp}
	if c.tp == nil {
		r = &dealerRun{secureBackend: c.be, lazy: c.Lazy}
	}
	pub := c.Public
	st := newStatsRecorder(conn, pub, r, n)
	t0 := time.Now()
	transport.SetPhase(conn, transport.PhaseOffline)
	if err := conn.Send(binary.AppendUvarint([]byte(msgRequest), uint64(n))); err != nil {
		return nil, Stats{}, ctxErr(ctx, fmt.Errorf("pi: client: %w", err))
	}
	// The server drops a prepare of another size as we do (Server.serve).
	ahead := n == c.prepared
	c.prepared = 0
	if !ahead {
		if err := r.offline(conn, n); err != nil {
			return nil, Stats{}, ctxErr(ctx, fmt.Errorf("pi: client: %w", err))
		}
	}
	st.offlineDone(time.Since(t0))
	st.stats.Prepared = ahead
	transport.SetPhase(conn, transport.PhaseOnline)
	t1 := time.Now()
	y, err := r.input(in, len(in))
	if err == nil {
		y, err = execute(pub, r, n, y, st.hook)
	}
	if err == nil {
		y, err = runTopK(r, conn, pub, n, y, st)
	}
	if err != nil {
		return nil, Stats{}, ctxErr(ctx, fmt.Errorf("pi: client: %w", err))
	}
	transport.SetLayer(conn, "output")
	out, err := r.reveal(y)
	if err != nil {
		return nil, Stats{}, ctxErr(ctx, fmt.Errorf("pi: client: output: %w", err))
	}
	transport.SetLayer(conn, "")
	logits, err := pub.decodeResult(out, n)
	if err != nil {
		return nil, Stats{}, err
	}
	return logits, st.finish(time.Since(t1)), nil
}

// Close ends the session: the server's Run returns nil. It does not close
// the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	transport.SetPhase(c.conn, transport.PhaseOffline)
	err := c.conn.Send(binary.AppendUvarint([]byte(msgRequest), 0))
	c.conn = nil
	if err != nil {
		return fmt.Errorf("pi: client: close: %w", err)
	}
	return nil
}

// DealerMaterial returns the encoded sizes of the dealer material of pub
// as a dealer generates it (fresh random seeds): the setup's (the
// server's weight and coefficient masks; the client asks for none) and
// one single-image inference's for each party.
func DealerMaterial(pub *Public) (setup, server, client int64, err error) {
	d, err := dealer.NewRandomGenerator()
	if err != nil {
		return 0, 0, 0, err
	}
	gen := func(reqs []corr.Request, add func(m0, m1 *corr.Material)) error {
		for _, req := range reqs {
			m0, m1, err := d.Generate(req, 0)
			if err != nil {
				return err
			}
			add(m0, m1)
			m0.Release()
			m1.Release()
		}
		return nil
	}
	if err := gen(SetupRequests(pub, mpc.Server), func(m0, _ *corr.Material) { setup += m0.Size() }); err != nil {
		return 0, 0, 0, err
	}
	err = gen(InferenceRequests(pub, 1), func(m0, m1 *corr.Material) { server += m0.Size(); client += m1.Size() })
	return setup, server, client, err
}
