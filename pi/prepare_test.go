package pi

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/autorep/autorep/mpc/dealer"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// preparePlan is a random-weight LeNet with mixed ReLU/polynomial
// activations at f = 8 and the smallest ℓ MinEll gives for x, where the
// two-party suite equals EvalFixed exactly (TestTwoPartyExactSynthetic),
// compiled for the twoparty suite (preparePlanFor: another).
func preparePlan(t *testing.T, x *tensor.Tensor) *Plan {
	t.Helper()
	return preparePlanFor(t, x, SuiteTwoParty)
}

// preparePlanFor is preparePlan for suite.
func preparePlanFor(t *testing.T, x *tensor.Tensor, suite string) *Plan {
	t.Helper()
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 21)
	installPoly(m, 0.5, 1, 22)
	p, err := Compile(m, Config{FracBits: 8})
	if err != nil {
		t.Fatal(err)
	}
	ell, err := p.MinEll(x)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = Compile(m, Config{FracBits: 8, Ell: ell, Suite: suite}); err != nil {
		t.Fatal(err)
	}
	return p
}

// prepareSession is a two-party session over a pipe: the server runs in
// the background, recording its inference and prepare statistics.
type prepareSession struct {
	t       *testing.T
	ctx     context.Context
	c0, c1  transport.Conn
	cl      *Client
	done    chan error
	mu      sync.Mutex
	infer   []Stats // the server's, per request
	prepare []Stats // the server's, per prepare
	started []int   // OnRequest's images, per request and accepted prepare
}

func newPrepareSession(t *testing.T, plan *Plan, suite string, maxImages int) *prepareSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s := &prepareSession{t: t, ctx: ctx, done: make(chan error, 1)}
	s.c0, s.c1 = transport.Pipe()
	t.Cleanup(func() { s.c0.Close(); s.c1.Close() })
	srv := &Server{Plan: plan, Suite: suite, MaxImages: maxImages,
		OnInference: func(st Stats) { s.mu.Lock(); s.infer = append(s.infer, st); s.mu.Unlock() },
		OnPrepare:   func(st Stats) { s.mu.Lock(); s.prepare = append(s.prepare, st); s.mu.Unlock() },
		OnRequest:   func(n int) { s.mu.Lock(); s.started = append(s.started, n); s.mu.Unlock() },
	}
	if suite == SuiteDealer {
		var sd ring.Seed
		sd[0] = 7
		p0, p1 := dealer.LocalProviders(dealer.NewGenerator(sd))
		srv.Provider = p0
		s.cl = &Client{Public: plan.Public, Suite: suite, Provider: p1}
	} else {
		s.cl = &Client{Public: plan.Public, Suite: suite}
	}
	go func() { s.done <- srv.Run(ctx, s.c0) }()
	return s
}

// run infers x and requires the logits to equal EvalFixed's exactly.
func (s *prepareSession) run(plan *Plan, x *tensor.Tensor) Stats {
	s.t.Helper()
	want, err := plan.EvalFixed(x)
	if err != nil {
		s.t.Fatal(err)
	}
	got, st, err := s.cl.Infer(s.ctx, s.c1, x)
	if err != nil {
		s.t.Fatalf("infer: %v (server: %v)", err, drain(s.done))
	}
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			s.t.Fatalf("logit %d: %v, EvalFixed %v", i, got.Data[i], want.Data[i])
		}
	}
	return st
}

// close ends the session and requires the server to return nil.
func (s *prepareSession) close() {
	s.t.Helper()
	if err := s.cl.Close(); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("server: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("server still running 30 s after the client closed the session")
	}
}

// requestBytes is the offline traffic of a request whose offline phase
// was prepared: the client's request message of n < 128 images alone.
const requestBytes = int64(len(msgRequest) + 1)

// TestPrepareInfer: a prepare of two images, then a request of those two
// images, equals EvalFixed exactly; the request's offline traffic is its
// request message alone (Stats.Prepared on both sides), and the prepare's
// plus the request's offline bytes are exactly an unprepared request's
// plus the prepare message and its answer (the same work, moved); the
// server reports the prepare (OnRequest when it starts, OnPrepare when it
// is done) with the client's bytes; all
// precomputed material is used. A later request of one image, not
// prepared, runs its own offline phase.
func TestPrepareInfer(t *testing.T) {
	x := randomImages(23, 3, [3]int{1, 28, 28})
	plan := preparePlan(t, x)
	x2 := tensor.FromData(x.Data[:2*28*28], 2, 1, 28, 28)
	x1 := tensor.FromData(x.Data[2*28*28:], 1, 1, 28, 28)
	plain := runTwoParty(t, plan, x2).stats[0] // unprepared reference

	s := newPrepareSession(t, plan, SuiteTwoParty, 4)
	ps, err := s.cl.Prepare(s.ctx, s.c1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Images != 2 || ps.OfflineTime <= 0 || ps.Online != (transport.Counts{}) {
		t.Errorf("prepare stats: %d images, offline %v, online %+v", ps.Images, ps.OfflineTime, ps.Online)
	}
	st := s.run(plan, x2)
	if o := st.OfflineMsgs; !st.Prepared || o.BytesSent != requestBytes || o.MsgsSent != 1 || o.BytesRecv != 0 || o.MsgsRecv != 0 {
		t.Errorf("prepared request: Prepared %v, offline %+v, want the request alone (%d B sent)", st.Prepared, st.OfflineMsgs, requestBytes)
	}
	answer := int64(len(msgOK))
	if got, want := ps.OfflineMsgs.Bytes()+st.OfflineMsgs.Bytes(), plain.OfflineMsgs.Bytes()+int64(len(msgPrepare)+1)+answer; got != want {
		t.Errorf("prepare + request offline bytes %d, unprepared request %d + prepare message and answer = %d", got, plain.OfflineMsgs.Bytes(), want)
	}
	if st.Online.Bytes() != plain.Online.Bytes() {
		t.Errorf("online bytes %d, unprepared %d", st.Online.Bytes(), plain.Online.Bytes())
	}
	if left := len(s.cl.tp.pre); left != 0 {
		t.Errorf("%d precomputed steps left unused", left)
	}
	st1 := s.run(plan, x1)
	if st1.Prepared || st1.OfflineMsgs.Bytes() <= requestBytes {
		t.Errorf("unprepared request after a prepared one: Prepared %v, offline %+v", st1.Prepared, st1.OfflineMsgs)
	}
	s.close()
	if len(s.prepare) != 1 || len(s.infer) != 2 {
		t.Fatalf("server saw %d prepares, %d requests; want 1, 2", len(s.prepare), len(s.infer))
	}
	// The server's figures start after the prepare message (as a
	// request's after the request).
	if sp := s.prepare[0]; sp.Images != 2 || sp.OfflineMsgs.Bytes() != ps.OfflineMsgs.Bytes()-int64(len(msgPrepare)+1) {
		t.Errorf("server's prepare: %d images, %d B; client's %d B with the prepare message", sp.Images, sp.OfflineMsgs.Bytes(), ps.OfflineMsgs.Bytes())
	}
	if want := []int{2, 2, 1}; !slices.Equal(s.started, want) {
		t.Errorf("OnRequest saw %v, want %v (the prepare, then each request)", s.started, want)
	}
	if !s.infer[0].Prepared || s.infer[1].Prepared {
		t.Errorf("server's requests Prepared %v, %v; want true, false", s.infer[0].Prepared, s.infer[1].Prepared)
	}
}

// TestPrepareBounds: a second prepare while one is held is refused by
// the client without traffic, and by the server when a client sends it
// anyway; a prepare beyond the server's MaxImages is refused naming the
// bound; every refusal wraps ErrPrepareRefused and leaves the session
// usable (the held prepare then serves its request). A request of
// another size than the prepared one drops it: it runs its own offline
// phase, exactly, and a new prepare is accepted after it.
func TestPrepareBounds(t *testing.T) {
	x := randomImages(24, 2, [3]int{1, 28, 28})
	plan := preparePlan(t, x)
	x1 := tensor.FromData(x.Data[:28*28], 1, 1, 28, 28)
	s := newPrepareSession(t, plan, SuiteTwoParty, 2)
	if _, err := s.cl.Prepare(s.ctx, s.c1, 3); !errors.Is(err, ErrPrepareRefused) || !strings.Contains(err.Error(), "at most 2") {
		t.Fatalf("prepare of 3 images, MaxImages 2: %v", err)
	}
	if _, err := s.cl.Prepare(s.ctx, s.c1, 1); err != nil {
		t.Fatal(err)
	}
	before := s.c1.Stats().Total()
	if _, err := s.cl.Prepare(s.ctx, s.c1, 1); !errors.Is(err, ErrPrepareRefused) {
		t.Fatalf("second prepare: %v", err)
	}
	if d := sub(s.c1.Stats().Total(), before); d.MsgsSent != 0 {
		t.Errorf("the client's refusal of a second prepare sent %d messages", d.MsgsSent)
	}
	s.cl.prepared = 0 // a client that sends it anyway
	_, err := s.cl.Prepare(s.ctx, s.c1, 1)
	if !errors.Is(err, ErrPrepareRefused) || !strings.Contains(err.Error(), "held") {
		t.Fatalf("second prepare sent to the server: %v", err)
	}
	s.cl.prepared = 1 // the server still holds the first
	if st := s.run(plan, x1); !st.Prepared {
		t.Error("the held prepare did not serve the request")
	}
	if _, err := s.cl.Prepare(s.ctx, s.c1, 2); err != nil {
		t.Fatal(err)
	}
	if st := s.run(plan, x1); st.Prepared || st.OfflineMsgs.Bytes() <= requestBytes {
		t.Errorf("request of 1 image after a prepare of 2: Prepared %v, offline %+v; want its own offline phase", st.Prepared, st.OfflineMsgs)
	}
	if _, err := s.cl.Prepare(s.ctx, s.c1, 1); err != nil {
		t.Fatalf("prepare after the dropped one: %v", err)
	}
	if st := s.run(plan, x1); !st.Prepared {
		t.Error("the new prepare did not serve the request")
	}
	s.close()
	if len(s.prepare) != 3 {
		t.Errorf("server ran %d prepares, want 3 (refusals run none)", len(s.prepare))
	}
}

// TestPrepareDealer: the dealer suite's client refuses a prepare without
// traffic; a dealer-suite server answers one sent anyway with a refusal
// and goes on serving.
func TestPrepareDealer(t *testing.T) {
	x := randomImages(25, 1, [3]int{1, 28, 28})
	plan := preparePlanFor(t, x, SuiteDealer)
	s := newPrepareSession(t, plan, SuiteDealer, 0)
	if err := s.cl.Connect(s.ctx, s.c1); err != nil {
		t.Fatal(err)
	}
	before := s.c1.Stats().Total()
	if _, err := s.cl.Prepare(s.ctx, s.c1, 1); !errors.Is(err, ErrPrepareRefused) {
		t.Fatalf("dealer-suite prepare: %v", err)
	}
	if d := sub(s.c1.Stats().Total(), before); d.MsgsSent != 0 {
		t.Errorf("the dealer client's refusal sent %d messages", d.MsgsSent)
	}
	if err := s.c1.Send(binary.AppendUvarint([]byte(msgPrepare), 1)); err != nil {
		t.Fatal(err)
	}
	ans, err := transport.RecvMax(s.c1, maxRefusal)
	if err != nil || !strings.HasPrefix(string(ans), msgError) || !strings.Contains(string(ans), "dealer suite") {
		t.Fatalf("dealer server's answer to a prepare: %q, %v", ans, err)
	}
	if _, _, err := s.cl.Infer(s.ctx, s.c1, x); err != nil {
		t.Fatalf("infer after the refused prepare: %v (server: %v)", err, drain(s.done))
	}
	s.close()
}

// TestPrepareClose: a session closed with a prepared request held ends
// cleanly on both sides.
func TestPrepareClose(t *testing.T) {
	x := randomImages(26, 1, [3]int{1, 28, 28})
	plan := preparePlan(t, x)
	s := newPrepareSession(t, plan, SuiteTwoParty, 1)
	if _, err := s.cl.Prepare(s.ctx, s.c1, 1); err != nil {
		t.Fatal(err)
	}
	s.close()
	if len(s.prepare) != 1 || len(s.infer) != 0 {
		t.Errorf("server saw %d prepares, %d requests; want 1, 0", len(s.prepare), len(s.infer))
	}
}

// TestPrepareDisconnect: a client that closes its connection during a
// prepare's offline phase makes the server return an error naming the
// prepare, and the client's Prepare an error, instead of hanging; the
// client's session is then broken.
func TestPrepareDisconnect(t *testing.T) {
	x := randomImages(27, 1, [3]int{1, 28, 28})
	plan := preparePlan(t, x)
	first := ""
	for i := range plan.Public.Steps {
		if st := &plan.Public.Steps[i]; st.Op == OpLinear {
			first = st.Name
			break
		}
	}
	s := newPrepareSession(t, plan, SuiteTwoParty, 1)
	// The client's connection closes at its first message of the first
	// step's precomputation, whatever the goroutine schedule.
	cut := &transporttest.CutConn{Conn: s.c1, Layer: first}
	if err := s.cl.Connect(s.ctx, cut); err != nil {
		t.Fatal(err)
	}
	cerr := make(chan error, 1)
	go func() {
		_, err := s.cl.Prepare(s.ctx, cut, 1)
		cerr <- err
	}()
	for who, ch := range map[string]chan error{"server": s.done, "client": cerr} {
		select {
		case err := <-ch:
			if err == nil {
				t.Errorf("client closed during a prepare: the %s returned nil", who)
			} else if who == "server" && !strings.Contains(err.Error(), "prepare") {
				t.Errorf("server error %v does not name the prepare", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("client closed during a prepare: the %s hangs", who)
		}
	}
	if _, _, err := s.cl.Infer(s.ctx, cut, x); err == nil {
		t.Error("infer after a failed prepare succeeded")
	}
}
