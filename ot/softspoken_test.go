package ot

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/transport"
)

// pairK sets up a SoftSpoken (k > 0) or IKNP (k = 0) Sender and Receiver.
func pairK(t testing.TB, k int) (*Sender, *Receiver, transport.Conn, transport.Conn) {
	var s *Sender
	var r *Receiver
	cs, cr := run(t, func(c transport.Conn) (err error) { s, err = NewSenderK(c, k); return },
		func(c transport.Conn) (err error) { r, err = NewReceiverK(c, k); return })
	return s, r, cs, cr
}

// TestSoftSpokenCOT checks t = q ⊕ r·Δ for every k (divisors of 128 and
// not), over several calls so the leaf streams continue across them, and
// the correction message's size: ⌈128/k⌉ bits per OT, padded to 128 OTs.
func TestSoftSpokenCOT(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for k := 1; k <= MaxSoftSpokenK; k++ {
		s, r, _, cr := pairK(t, k)
		blocks := (Kappa + k - 1) / k
		for _, n := range []int{1, 129, 5000, 64} {
			choice := randBits(rng, n)
			var q []Block
			errs := make(chan error, 1)
			cr.Stats().Reset()
			go func() { var err error; q, err = s.COT(n); errs <- err }()
			tt, err := r.COT(choice)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			for i := range n {
				want := q[i]
				if choice[i] == 1 {
					want = want.Xor(s.Delta())
				}
				if tt[i] != want {
					t.Fatalf("k=%d n=%d OT %d: t != q ⊕ r·Δ", k, n, i)
				}
			}
			if got, want := cr.Stats().Total().Bytes(), int64(blocks*padded(n)*8); got != want {
				t.Errorf("k=%d n=%d: receiver sent %d bytes, want %d", k, n, got, want)
			}
		}
	}
}

// TestSoftSpokenCorrelated runs the derived OTs (ROT, chosen, correlated)
// over a SoftSpoken source.
func TestSoftSpokenCorrelated(t *testing.T) {
	s, r, _, _ := pairK(t, 5)
	rng := rand.New(rand.NewPCG(33, 34))
	n := 700
	choice := randBits(rng, n)
	delta := make([]uint64, n)
	for i := range delta {
		delta[i] = rng.Uint64()
	}
	var x []uint64
	errs := make(chan error, 1)
	go func() { var err error; x, err = s.SendCorrelated(delta, 37); errs <- err }()
	got, err := r.ReceiveCorrelated(choice, 37)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if want := (x[i] + uint64(choice[i])*delta[i]) & mask(37); got[i] != want {
			t.Fatalf("OT %d: got %x want %x", i, got[i], want)
		}
	}
}

// TestSoftSpokenSenderView: the correction the sender receives is u ⊕ r
// with u pseudo-random, so even all-zero choices give balanced bits; a
// missing pad (u = 0) would show r itself.
func TestSoftSpokenSenderView(t *testing.T) {
	for _, k := range []int{2, 8} {
		s, r, cs, _ := pairK(t, k)
		n := 1 << 12
		var msg []byte
		tap := &tapRecv{Conn: cs, got: &msg}
		s.c = tap
		errs := make(chan error, 1)
		go func() { _, err := s.COT(n); errs <- err }()
		if _, err := r.COT(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		ones := 0
		for _, b := range msg {
			for j := range 8 {
				ones += int(b >> j & 1)
			}
		}
		bitsN := float64(8 * len(msg))
		if d := float64(ones) - bitsN/2; d*d > 36*bitsN/4 {
			t.Errorf("k=%d: %d ones in %.0f correction bits, not within 6σ of half", k, ones, bitsN)
		}
	}
}

// tapRecv keeps the last message received.
type tapRecv struct {
	transport.Conn
	got *[]byte
}

func (c *tapRecv) Recv() ([]byte, error) {
	m, err := c.Conn.Recv()
	*c.got = append([]byte(nil), m...)
	return m, err
}

// TestSoftSpokenMalformed: bad k, a short tree message, a short or long
// correction are errors.
func TestSoftSpokenMalformed(t *testing.T) {
	a, _ := transport.Pipe()
	for _, k := range []int{-1, 9} {
		if _, err := NewSenderK(a, k); err == nil {
			t.Errorf("k=%d accepted", k)
		}
		if _, err := NewReceiverK(a, k); err == nil {
			t.Errorf("receiver k=%d accepted", k)
		}
	}
	// A tree message one byte short.
	var err error
	ca, cb := transport.Pipe()
	go func() {
		keys, e := BaseSend(cb, Kappa)
		if e == nil {
			_ = keys
			e = cb.Send(make([]byte, 32*Kappa-1))
		}
		_ = e
	}()
	if _, err = NewSenderK(ca, 4); err == nil {
		t.Fatal("short SoftSpoken tree message accepted")
	}
	s, _, _, cr := pairK(t, 4)
	for _, size := range []int{0, 32*2*8 - 1, 32*2*8 + 8} {
		go func() { _ = cr.Send(make([]byte, size)) }()
		if _, err := s.COT(100); err == nil {
			t.Errorf("correction of %d bytes accepted", size)
		}
	}
}

// BenchmarkCOTK: correlated OTs from IKNP (k=0) and SoftSpoken (k=1..8),
// both parties in one process.
func BenchmarkCOTK(b *testing.B) {
	for _, k := range []int{0, 2, 4, 6, 8} {
		b.Run("k="+string(rune('0'+k)), func(b *testing.B) {
			s, r, cs, _ := pairK(b, k)
			cs.Stats().Reset()
			choice := randBits(rand.New(rand.NewPCG(1, 2)), benchN)
			errs := make(chan error, 1)
			cpu0 := cputime.Seconds()
			for b.Loop() {
				go func() { _, err := s.COT(benchN); errs <- err }()
				if _, err := r.COT(choice); err != nil {
					b.Fatal(err)
				}
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			reportOT(b, benchN, cs, cpu0)
		})
	}
}

// TestPermBatch: the batched permutation (AES-NI through simd/archsimd
// where available) equals crypto/aes block by block, for batch tails too.
func TestPermBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 100} {
		x := make([]Block, n)
		for i := range x {
			x[i] = Block{rng.Uint64(), rng.Uint64()}
		}
		got := make([]Block, n)
		permBlocks(got, x)
		for i := range x {
			if want := perm(x[i]); got[i] != want {
				t.Fatalf("n=%d block %d: batch %x, crypto/aes %x", n, i, got[i], want)
			}
		}
		tw := make([]Block, n)
		for i := range tw {
			tw[i] = Block{uint64(i), 7}
		}
		h := make([]Block, n)
		tccrBlocks(h, x, tw, new([]Block))
		for i := range x {
			p := perm(x[i])
			if want := perm(p.Xor(tw[i])).Xor(p); h[i] != want {
				t.Fatalf("n=%d tccr %d differs", n, i)
			}
		}
	}
	t.Logf("batched AES: %v", permBatch != nil)
}

// TestCorrelatedPair: both correlations of each OT, zero widths included,
// and bad widths rejected.
func TestCorrelatedPair(t *testing.T) {
	s, r, _, _ := pairK(t, 8)
	rng := rand.New(rand.NewPCG(37, 38))
	n := 500
	choice := randBits(rng, n)
	d0, d1 := make([]uint64, n), make([]uint64, n)
	w0, w1 := make([]uint8, n), make([]uint8, n)
	for i := range n {
		d0[i], d1[i] = rng.Uint64(), rng.Uint64()
		w0[i], w1[i] = uint8(rng.IntN(65)), uint8(rng.IntN(65))
	}
	var x, y []uint64
	errs := make(chan error, 1)
	go func() { var err error; x, y, err = s.SendCorrelatedPair(d0, d1, w0, w1); errs <- err }()
	gx, gy, err := r.ReceiveCorrelatedPair(choice, w0, w1)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		c := uint64(choice[i])
		if want := (x[i] + c*d0[i]) & mask(uint(w0[i])); gx[i] != want {
			t.Fatalf("OT %d first: got %x want %x", i, gx[i], want)
		}
		if want := (y[i] + c*d1[i]) & mask(uint(w1[i])); gy[i] != want {
			t.Fatalf("OT %d second: got %x want %x", i, gy[i], want)
		}
	}
	if _, _, err := s.SendCorrelatedPair(d0, d1, w0, append([]uint8{65}, w1[1:]...)); err == nil {
		t.Error("width 65 accepted")
	}
	if _, _, err := r.ReceiveCorrelatedPair(choice[:3], w0, w1); err == nil {
		t.Error("mismatched sizes accepted")
	}
}

// BenchmarkOneOf16Config: 1-out-of-16 OTs of 2-bit messages (the millionaires'
// leaves) by KK13 (SHA-256 keys) and from COTs (tree-tweaked AES keys)
// over IKNP and SoftSpoken.
func BenchmarkOneOf16Config(b *testing.B) {
	for _, cfg := range []Config{{KK: true}, {}, {K: 4}, {K: 8}} {
		b.Run(strings.ReplaceAll(cfg.String(), " ", "_"), func(b *testing.B) {
			s0, s1, c0, _ := sessionsCfg(b, cfg)
			c0.Stats().Reset()
			n := benchN / 4
			rng := rand.New(rand.NewPCG(1, 4))
			choice := make([]uint8, n)
			for i := range choice {
				choice[i] = uint8(rng.IntN(16))
			}
			msgs := make([]uint64, 16*n)
			errs := make(chan error, 1)
			cpu0 := cputime.Seconds()
			for b.Loop() {
				go func() { errs <- s0.SendN(msgs, 16, 2) }()
				if _, err := s1.ReceiveN(choice, 16, 2); err != nil {
					b.Fatal(err)
				}
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			reportOT(b, n, c0, cpu0)
		})
	}
}

// TestAsWords: the in-place word view of a message is little-endian
// words, and is refused for a buffer that is not 8-byte aligned (the
// callers then decode a copy).
func TestAsWords(t *testing.T) {
	b := make([]byte, 33)
	for i := range b {
		b[i] = byte(i + 1)
	}
	w, ok := asWords(b[:32])
	if littleEndian && (!ok || len(w) != 4 || w[1] != 0x100f0e0d0c0b0a09) {
		t.Errorf("aligned: %v %x", ok, w)
	}
	if _, ok := asWords(b[1:33]); ok {
		t.Error("a buffer at an odd address was viewed as words")
	}
}
