package ot

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/transport"
)

// both runs the sender's and the receiver's halves of one step at once.
func both(t *testing.T, snd func() error, rcv func() error) {
	t.Helper()
	errs := make(chan error, 1)
	go func() { errs <- snd() }()
	if err := rcv(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// precomputePair fills the pools of both directions of s0, s1 with n
// COTs each (K extension).
func precomputePair(t *testing.T, s0, s1 *Session, n int) {
	t.Helper()
	for _, p := range [][2]*Session{{s0, s1}, {s1, s0}} {
		both(t, func() error { return p[0].Send.Precompute(n) }, func() error { return p[1].Recv.Precompute(n) })
	}
}

// TestPoolOTs: with precomputed COTs every kind of OT built on the
// extension (COT, ROT, chosen-message, correlated, correlated pairs,
// 1-out-of-N with rows straddling the 4,096-row chunks) gives exactly
// the values it defines, the online receiver sends one bit per OT (plus
// the byte's padding) instead of the matrix, and the pool ends empty
// when the counts match — over IKNP, SoftSpoken and Ferret.
func TestPoolOTs(t *testing.T) {
	for _, cfg := range []Config{{}, {K: 4}, {K: 8}, {K: 4, Ferret: ferretTiny}} {
		s0, s1, c0, c1 := sessionsCfg(t, cfg)
		rng := rand.New(rand.NewPCG(uint64(cfg.K), 31))
		cotSizes := []int{1, 7, 8, 4097}
		const nOT, nn, nN = 300, 5, 1500 // 1-of-5: 3 COTs per OT
		total := 0
		for _, n := range cotSizes {
			total += n
		}
		total += 5*nOT + 3*nN // ROT, chosen, correlated, pair, bits of width 1..64
		precomputePair(t, s0, s1, total)
		conns := [2]transport.Conn{c0, c1}
		for dir := range 2 {
			snd, rcv := s0.Send, s1.Recv
			if dir == 1 {
				snd, rcv = s1.Send, s0.Recv
			}
			rc := conns[1-dir]
			if snd.Pooled() != total || rcv.Pooled() != total {
				t.Fatalf("%v: pools of %d and %d COTs, want %d", cfg, snd.Pooled(), rcv.Pooled(), total)
			}
			for _, n := range cotSizes {
				choice := randBits(rng, n)
				var q, tr []Block
				sent := rc.Stats().Total().BytesSent
				both(t, func() (err error) { q, err = snd.COT(n); return },
					func() (err error) { tr, err = rcv.COT(choice); return })
				if got := rc.Stats().Total().BytesSent - sent; got != int64((n+7)/8) {
					t.Fatalf("%v: %d pooled COTs sent %d bytes, want %d", cfg, n, got, (n+7)/8)
				}
				for i := range n {
					want := q[i]
					if choice[i] == 1 {
						want = want.Xor(snd.Delta())
					}
					if tr[i] != want {
						t.Fatalf("%v dir %d n=%d: COT %d breaks t = q ⊕ c·Δ", cfg, dir, n, i)
					}
				}
			}
			choice := randBits(rng, nOT)
			var m0, m1, h []Block
			both(t, func() (err error) { m0, m1, err = snd.ROT(nOT); return },
				func() (err error) { h, err = rcv.ROT(choice); return })
			for i, c := range choice {
				want, other := m0[i], m1[i]
				if c == 1 {
					want, other = other, want
				}
				if h[i] != want || h[i] == other {
					t.Fatalf("%v: ROT %d is not exactly the chosen message", cfg, i)
				}
			}
			a0, a1 := make([]uint64, nOT), make([]uint64, nOT)
			widths := make([]uint8, nOT)
			for i := range a0 {
				a0[i], a1[i], widths[i] = rng.Uint64(), rng.Uint64(), uint8(1+rng.IntN(64))
			}
			var got []uint64
			both(t, func() error { return snd.Send(a0, a1, 64) },
				func() (err error) { got, err = rcv.Receive(choice, 64); return })
			for i, c := range choice {
				if want := []uint64{a0[i], a1[i]}[c]; got[i] != want {
					t.Fatalf("%v: chosen OT %d: %x, want %x", cfg, i, got[i], want)
				}
			}
			var x []uint64
			both(t, func() (err error) { x, err = snd.SendCorrelatedWidths(a0, widths); return },
				func() (err error) { got, err = rcv.ReceiveCorrelatedWidths(choice, widths); return })
			for i, c := range choice {
				if w := uint(widths[i]); got[i] != (x[i]+uint64(c)*a0[i])&mask(w) {
					t.Fatalf("%v: correlated OT %d breaks y = x + c·δ", cfg, i)
				}
			}
			var y, gx, gy []uint64
			both(t, func() (err error) { x, y, err = snd.SendCorrelatedPair(a0, a1, widths, widths); return },
				func() (err error) { gx, gy, err = rcv.ReceiveCorrelatedPair(choice, widths, widths); return })
			for i, c := range choice {
				m := mask(uint(widths[i]))
				if gx[i] != (x[i]+uint64(c)*a0[i])&m || gy[i] != (y[i]+uint64(c)*a1[i])&m {
					t.Fatalf("%v: correlated pair %d breaks its correlations", cfg, i)
				}
			}
			// The fifth batch of nOT: correlated OTs of one bit.
			both(t, func() (err error) { x, err = snd.SendCorrelated(a0, 1); return },
				func() (err error) { got, err = rcv.ReceiveCorrelated(choice, 1); return })
			for i, c := range choice {
				if got[i] != (x[i]+uint64(c)*a0[i])&1 {
					t.Fatalf("%v: 1-bit correlated OT %d", cfg, i)
				}
			}
			msgs := make([]uint64, nN*nn)
			for i := range msgs {
				msgs[i] = rng.Uint64() & mask(20)
			}
			ch := make([]uint8, nN)
			for i := range ch {
				ch[i] = uint8(rng.IntN(nn))
			}
			both(t, func() error { return NewCNSender(snd).Send(msgs, nn, 20) },
				func() (err error) { got, err = NewCNReceiver(rcv).Receive(ch, nn, 20); return })
			for i, c := range ch {
				if got[i] != msgs[i*nn+int(c)] {
					t.Fatalf("%v: 1-of-%d OT %d: %x, want %x", cfg, nn, i, got[i], msgs[i*nn+int(c)])
				}
			}
			if snd.Pooled() != 0 || rcv.Pooled() != 0 {
				t.Fatalf("%v: %d and %d pooled COTs left", cfg, snd.Pooled(), rcv.Pooled())
			}
			if snd.pre.q != nil || rcv.pre.t != nil {
				t.Fatalf("%v: a used-up pool keeps its rows", cfg)
			}
		}
		if cfg.Ferret != NoFerret {
			// The pooled batches asked for no iterations, and the
			// extension's Ferret is still in step after them.
			s0.Send.DropPool()
			s1.Recv.DropPool()
			n := 3000
			choice := randBits(rng, n)
			var q, tr []Block
			both(t, func() (err error) { q, err = s0.Send.COT(n); return },
				func() (err error) { tr, err = s1.Recv.COT(choice); return })
			for i := range n {
				if want := q[i]; tr[i] != want && tr[i] != want.Xor(s0.Send.Delta()) || (tr[i] == want) != (choice[i] == 0) {
					t.Fatalf("%v: COT %d after the pool breaks the correlation", cfg, i)
				}
			}
		}
	}
}

// TestPoolShort: a batch larger than what is left of the pool is an
// error on both sides, before anything is sent (no silent extension, no
// hang); a pool with more than used reports the rest.
func TestPoolShort(t *testing.T) {
	s0, s1, _, _ := sessionsCfg(t, DefaultConfig)
	both(t, func() error { return s0.Send.Precompute(10) }, func() error { return s1.Recv.Precompute(10) })
	if _, err := s1.Recv.COT(make([]byte, 11)); err == nil || !strings.Contains(err.Error(), "11 OTs wanted, 10 left of those precomputed") {
		t.Fatalf("receiver: %v", err)
	}
	if _, err := s0.Send.COT(11); err == nil || !strings.Contains(err.Error(), "11 OTs wanted, 10 left of those precomputed") {
		t.Fatalf("sender: %v", err)
	}
	if _, err := s0.Send.SendCorrelated(make([]uint64, 11), 8); err == nil {
		t.Fatal("sender: correlated batch beyond the pool accepted")
	}
	if s0.Send.Pooled() != 10 || s1.Recv.Pooled() != 10 {
		t.Fatalf("pools of %d and %d after refused batches, want 10", s0.Send.Pooled(), s1.Recv.Pooled())
	}
	if err := s0.Send.Precompute(-1); err == nil {
		t.Fatal("negative precomputation accepted")
	}
}

// TestPoolHostile: a derandomization message of the wrong length, or
// with the padding bits of its last byte set, is a clear error at the
// sender.
func TestPoolHostile(t *testing.T) {
	for _, tc := range []struct {
		msg  []byte
		want string
	}{
		{[]byte{0x3f}, "padding bits set"},
		{[]byte{0x1f, 0}, "derandomization bits"},
		{[]byte{}, "derandomization bits"},
	} {
		s0, s1, _, c1 := sessionsCfg(t, DefaultConfig)
		both(t, func() error { return s0.Send.Precompute(16) }, func() error { return s1.Recv.Precompute(16) })
		errs := make(chan error, 1)
		go func() { _, err := s0.Send.COT(5); errs <- err }()
		if err := c1.Send(tc.msg); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("message %x: %v, want an error with %q", tc.msg, err, tc.want)
		}
	}
}

// TestPoolView: the derandomization bits d = r ⊕ c the sender receives
// are balanced whatever the choices (all zeros, all ones) and
// uncorrelated with them (random choices): r is uniform and secret.
func TestPoolView(t *testing.T) {
	const n = 1 << 15
	rng := rand.New(rand.NewPCG(41, 42))
	choices := map[string][]byte{"zeros": make([]byte, n), "ones": make([]byte, n), "random": randBits(rng, n)}
	for i := range n {
		choices["ones"][i] = 1
	}
	for what, choice := range choices {
		s, r := pair(t)
		both(t, func() error { return s.Precompute(n) }, func() error { return r.Precompute(n) })
		tap := privacytest.NewRecorder(s.c)
		s.c = tap
		both(t, func() (err error) { _, err = s.COT(n); return }, func() (err error) { _, err = r.COT(choice); return })
		d := tap.Messages(0)[0]
		ones, agree := 0, 0
		for i := range n {
			b := d[i/8] >> (i % 8) & 1
			ones += int(b)
			if b == choice[i] {
				agree++
			}
		}
		balanced(t, "d for choices "+what, ones, n)
		balanced(t, "d = c for choices "+what, agree, n)
	}
}
