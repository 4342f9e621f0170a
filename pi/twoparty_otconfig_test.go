package pi

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// ferretSmall is the OT configuration of Ferret's small parameter set.
func ferretSmall(t testing.TB) *OTParams {
	t.Helper()
	p, err := FerretOT("small")
	if err != nil || p == nil {
		t.Fatalf("FerretOT(small) = %v, %v", p, err)
	}
	return p
}

// TestOTParams: the OT configuration is in the public plan and its hash
// only when it is not the default (default plans hash as before: the
// pinned hashes of TestPlanSuiteHash hold), it survives the plan's
// encoding, the dealer suite refuses one, and a decoded plan with
// parameters out of range is refused.
func TestOTParams(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	def, err := Compile(m, Config{Suite: SuiteTwoParty})
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := Compile(m, Config{Suite: SuiteTwoParty, OT: &OTParams{K: ot.DefaultConfig.K, KMul: ot.DefaultConfig.KMul}})
	if err != nil {
		t.Fatal(err)
	}
	if explicit.Public.OT != nil || explicit.PublicHash() != def.PublicHash() {
		t.Errorf("the default OT configuration given explicitly is recorded (%v) or changes the hash", explicit.Public.OT)
	}
	if b, _ := def.Public.MarshalBinary(); bytes.Contains(b, []byte(`"ot"`)) {
		t.Error("a default plan's JSON names its OT configuration")
	}
	fe, err := Compile(m, Config{Suite: SuiteTwoParty, OT: ferretSmall(t)})
	if err != nil {
		t.Fatal(err)
	}
	if fe.PublicHash() == def.PublicHash() {
		t.Error("a Ferret plan hashes like the default one")
	}
	b, err := fe.Public.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalPublic(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.OT == nil || *back.OT != *fe.Public.OT || back.Hash() != fe.PublicHash() {
		t.Errorf("decoded OT configuration %v, encoded %v", back.OT, fe.Public.OT)
	}
	if got, want := fe.Public.OT.String(), "ferret small from softspoken k=4"; got != want {
		t.Errorf("Ferret configuration named %q, want %q", got, want)
	}
	if got, want := def.Public.OT.String(), ot.DefaultConfig.String(); got != want {
		t.Errorf("default configuration named %q, want %q", got, want)
	}
	if _, err := Compile(m, Config{Suite: SuiteDealer, OT: ferretSmall(t)}); err == nil || !strings.Contains(err.Error(), "dealer suite runs no OTs") {
		t.Errorf("dealer plan with an OT configuration: %v", err)
	}
	for _, name := range []string{"", "none"} {
		if p, err := FerretOT(name); p != nil || err != nil {
			t.Errorf("FerretOT(%q) = %v, %v; want the default", name, p, err)
		}
	}
	if p, err := FerretOT("large"); err != nil || p.Ferret != "large" || p.K != ot.DefaultConfig.K || p.KMul != 0 {
		t.Errorf("FerretOT(large) = %+v, %v", p, err)
	}
	if _, err := FerretOT("medium"); err == nil {
		t.Error("FerretOT accepted medium")
	}
	for _, bad := range []OTParams{{K: 9}, {K: -1}, {K: 4, KMul: 9}, {K: 4, Ferret: "tiny"}, {K: 4, Ferret: "medium"},
		{K: 4, Ferret: "ferret"}, {K: 4, KMul: 8, Ferret: "small"}} {
		q := *fe.Public
		q.OT = &bad
		if err := q.Validate(); err == nil {
			t.Errorf("plan with OT configuration %+v validates", bad)
		}
		qb, err := json.Marshal(&q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalPublic(qb); err == nil {
			t.Errorf("decoding a plan with OT configuration %+v succeeds", bad)
		}
		if _, err := Compile(m, Config{Suite: SuiteTwoParty, OT: &bad}); err == nil {
			t.Errorf("compiling with OT configuration %+v succeeds", bad)
		}
	}
	d, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	q := *d.Public
	q.OT = ferretSmall(t)
	if err := q.Validate(); err == nil {
		t.Error("a dealer plan with an OT configuration validates")
	}
}

// TestTwoPartyFerretMNIST: with Ferret's small set making every COT, the
// committed AutoReP LeNet-5 model (ReLUs: comparison COTs; polynomials:
// multiplication COTs, on the same Ferret COTs) gives logits equal to
// the fixed-point executor's bit for bit on an MNIST test image, as the
// default configuration does (TestTwoPartyExactMNIST), and the request's
// COTs made ahead cost fewer bytes than the 2 per COT of the cheapest
// SoftSpoken extension of the default (k = 8; the comparisons' k = 4
// costs 4).
func TestTwoPartyFerretMNIST(t *testing.T) {
	set := loadSet(t, "mnist")
	x := batch(set, []int{0})
	for _, name := range []string{"lenet-mnist-autorep10.safetensors"} {
		plan, err := Compile(loadCommitted(t, name), Config{Suite: SuiteTwoParty, OT: ferretSmall(t)})
		if err != nil {
			t.Fatal(err)
		}
		want, err := plan.EvalFixed(x)
		if err != nil {
			t.Fatal(err)
		}
		c0, c1 := transport.Pipe()
		res := runSuiteOn(t, plan, SuiteTwoParty, c0, c1, x)
		if d := maxAbs(res.logits[0], want); d != 0 {
			t.Fatalf("%s: logits differ from EvalFixed's by %g", name, d)
		}
		var bytes int64
		for _, l := range c1.Stats().Snapshot().Layers {
			if l.Layer == cotLayer {
				bytes += l.Counts.Bytes()
			}
		}
		counts, err := cotCounts(plan.Public, 1)
		if err != nil {
			t.Fatal(err)
		}
		var cots int
		for _, c := range counts {
			cots += c.Total()
		}
		t.Logf("%s: %d COTs made ahead in %d bytes (%.3f per COT)", name, cots, bytes, float64(bytes)/float64(cots))
		if cots == 0 || bytes == 0 || bytes >= 2*int64(cots) {
			t.Errorf("%s: %d COTs made ahead by Ferret in %d bytes, want some, under 2 per COT", name, cots, bytes)
		}
	}
}

// TestOTMismatch: a client and a server whose plans differ only in the OT
// configuration refuse each other at the hello, and the client's error
// names both configurations, the server's its own.
func TestOTMismatch(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	def, err := Compile(m, Config{Suite: SuiteTwoParty})
	if err != nil {
		t.Fatal(err)
	}
	fe, err := Compile(m, Config{Suite: SuiteTwoParty, OT: ferretSmall(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ferretName, defName := fe.Public.OT.String(), def.Public.OT.String()
	for _, c := range []struct {
		server, client *Plan
		sname, cname   string
	}{{fe, def, ferretName, defName}, {def, fe, defName, ferretName}} {
		c0, c1 := transport.Pipe()
		done := make(chan error, 1)
		go func() { done <- (&Server{Plan: c.server, Suite: SuiteTwoParty}).Run(ctx, c0) }()
		err := (&Client{Public: c.client.Public, Suite: SuiteTwoParty}).Connect(ctx, c1)
		if err == nil || !strings.Contains(err.Error(), "public plan mismatch") ||
			!strings.Contains(err.Error(), "the server's plan's OTs: "+c.sname) || !strings.Contains(err.Error(), "the client's plan's OTs: "+c.cname) {
			t.Errorf("server %s, client %s: client error %v", c.sname, c.cname, err)
		}
		if serr := <-done; serr == nil || !strings.Contains(serr.Error(), "differs") || !strings.Contains(serr.Error(), "our plan's OTs: "+c.sname) {
			t.Errorf("server %s, client %s: server error %v", c.sname, c.cname, serr)
		}
		c0.Close()
		c1.Close()
	}
}

// tamperConn changes the nth message (from 0) its party sends while its
// traffic is labelled layer: one byte short or one byte long.
type tamperConn struct {
	transport.Conn
	layer string
	nth   int
	long  bool
	mu    sync.Mutex
	seen  int
	hit   bool
}

func (c *tamperConn) Send(b []byte) error {
	c.mu.Lock()
	if c.Stats().Layer() == c.layer {
		if c.seen == c.nth && len(b) > 0 {
			c.hit = true
			if c.long {
				b = append(b[:len(b):len(b)], 0)
			} else {
				b = b[:len(b)-1]
			}
		}
		c.seen++
	}
	c.mu.Unlock()
	return c.Conn.Send(b)
}

// TestFerretTampered: in a Ferret session, a message of the Ferret setup
// (its bootstrap's matrix, layer setup/ot) or of the request's COTs made
// ahead (a Ferret iteration, a matrix with its header and derandomization
// bits, cotLayer) one byte short or long, from either party, makes the
// other fail with an error: no panic, no hang, no inference.
func TestFerretTampered(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: six Ferret sessions")
	}
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{Suite: SuiteTwoParty, OT: ferretSmall(t)})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(4, 1, m.Input)
	type tamper struct {
		nth  int
		long bool
	}
	// Each party sends 4 messages labelled setup/ot (the last the Ferret
	// bootstrap's extension matrix) and 2 labelled cotLayer (a Ferret
	// iteration and a Ferret matrix: header, derandomization bits).
	for layer, cases := range map[string][]tamper{"setup/ot": {{3, false}}, cotLayer: {{0, false}, {1, true}}} {
		for _, side := range []int{tpServer, tpClient} {
			for _, tc := range cases {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				c0, c1 := transport.Pipe()
				conns := []transport.Conn{c0, c1}
				tc0 := &tamperConn{Conn: conns[side], layer: layer, nth: tc.nth, long: tc.long}
				conns[side] = tc0
				done := make(chan error, 2)
				go func() {
					err := (&Server{Plan: plan, Suite: SuiteTwoParty}).Run(ctx, conns[0])
					conns[0].Close()
					done <- err
				}()
				go func() {
					cl := &Client{Public: plan.Public, Suite: SuiteTwoParty}
					_, _, err := cl.Infer(ctx, conns[1], x)
					if err == nil {
						err = cl.Close()
					}
					conns[1].Close()
					done <- err
				}()
				var errs []error
				for range 2 {
					select {
					case err := <-done:
						errs = append(errs, err)
					case <-time.After(45 * time.Second):
						t.Fatalf("%s, party %d's message %d tampered: a party hangs", layer, side, tc.nth)
					}
				}
				cancel()
				tc0.mu.Lock()
				hit := tc0.hit
				tc0.mu.Unlock()
				if !hit {
					t.Fatalf("%s: party %d sent no message %d", layer, side, tc.nth)
				}
				if errs[0] == nil && errs[1] == nil {
					t.Errorf("%s, party %d's message %d tampered (long %v): both parties succeeded", layer, side, tc.nth, tc.long)
				}
				t.Logf("%s, party %d, message %d, long %v: %v; %v", layer, side, tc.nth, tc.long, errs[0], errs[1])
			}
		}
	}
}
