package ot

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
)

// balanced fails unless ones out of total bits is within 6σ of total/2 (a
// fair coin per bit); a leak of the hidden input shows as ones = 0 or total.
func balanced(t *testing.T, what string, ones, total int) {
	t.Helper()
	sigma := math.Sqrt(float64(total)) / 2
	if d := math.Abs(float64(ones) - float64(total)/2); d > 6*sigma {
		t.Fatalf("%s: %d ones in %d bits, %.1fσ from half", what, ones, total, d/sigma)
	}
}

// TestSenderView: what the extension's sender receives, the matrix u, must
// tell it nothing about the receiver's choices. The sender can compute its
// own q^j; u^j ⊕ q^j ⊕ r must be balanced for a fixed r (here all ones),
// column by column (for Δ_j = 0 the sender knows t^j, so a missing
// G(k_j^1) mask would show as zeros).
func TestSenderView(t *testing.T) {
	s, r := pair(t)
	n := 4096
	choice := make([]byte, n)
	for i := range choice {
		choice[i] = 1
	}
	tap := privacytest.NewRecorder(s.c)
	s.c = tap
	var q []Block
	errs := make(chan error, 1)
	go func() { var err error; q, err = s.COT(n); errs <- err }()
	if _, err := r.COT(choice); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	u := tap.Messages(0)[0]
	w := padded(n)
	for _, dj := range []uint8{0, 1} {
		ones, total := 0, 0
		for j := range Kappa {
			if s.delta.Bit(j) != dj {
				continue
			}
			for i := range n {
				ub := u[j*w*8+i/8] >> (i % 8) & 1
				ones += int(ub ^ q[i].Bit(j) ^ choice[i])
				total++
			}
		}
		balanced(t, "u ⊕ q ⊕ r over columns with Δ_j = "+string('0'+dj), ones, total)
	}
}

// TestReceiverView: in a chosen-message OT with all messages zero, the
// masked message the receiver did not choose, unmasked by the only key it
// has, must be balanced (a key shared by both messages would give zeros).
func TestReceiverView(t *testing.T) {
	s, r := pair(t)
	n, ell := 4096, 64
	choice := randBits(rand.New(rand.NewPCG(19, 20)), n)
	tap := privacytest.NewRecorder(r.c)
	r.c = tap
	zero := make([]uint64, n)
	errs := make(chan error, 1)
	go func() { errs <- s.Send(zero, zero, ell) }()
	base := r.next
	tt, _, err := r.cot(choice) // the receiver's rows, as Receive computes them
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tap.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	br, err := newBitReader(msg, 2*ell*n, "view")
	if err != nil {
		t.Fatal(err)
	}
	ones, onesChosen := 0, 0
	for i := range n {
		y := [2]uint64{br.read(uint(ell)), br.read(uint(ell))}
		k := tccr(base+uint64(i), tt[i]).Lo
		if y[choice[i]]^k != 0 {
			t.Fatalf("OT %d: the chosen message does not decrypt to 0", i)
		}
		ones += bits.OnesCount64(y[1-choice[i]] ^ k)
		onesChosen += bits.OnesCount64(y[choice[i]])
	}
	balanced(t, "other message under the receiver's key", ones, n*ell)
	balanced(t, "chosen masked message", onesChosen, n*ell)
}

// TestNReceiverView is TestReceiverView for 1-out-of-16 OT, by KK13 and
// from COTs: each of the 15 other messages (all zero) under the receiver's
// key must be balanced, and so must the XOR of the keys of the four
// messages 4a..4a+3 (a "rectangle": a key made of independent per-bit
// hashes, K_y = ⊕_j h_j(y_j), would make it 0 and leak one message from
// three).
func TestNReceiverView(t *testing.T) {
	for _, cfg := range []Config{{KK: true}, {}, DefaultConfig} {
		testNReceiverView(t, cfg)
	}
}

func testNReceiverView(t *testing.T, cfg Config) {
	s0, s1, _, c1 := sessionsCfg(t, cfg)
	n, nn, ell := 2048, 16, 8
	rng := rand.New(rand.NewPCG(21, 22))
	choice := make([]uint8, n)
	for i := range choice {
		choice[i] = uint8(rng.IntN(nn))
	}
	tap := privacytest.NewRecorder(c1)
	s1.Recv.c = tap
	if s1.NRecv != nil {
		s1.NRecv.c = tap
	}
	errs := make(chan error, 1)
	go func() { errs <- s0.SendN(make([]uint64, n*nn), nn, ell) }()
	got, err := s1.ReceiveN(choice, nn, ell)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 0 {
			t.Fatalf("%v OT %d: got %x, want 0", cfg, i, v)
		}
	}
	// Recompute the receiver's keys from its masked chosen messages (they
	// decrypt to 0, so the key is the masked value itself).
	msgs := tap.Messages(0)
	br, err := newBitReader(msgs[len(msgs)-1], n*nn*ell, "view")
	if err != nil {
		t.Fatal(err)
	}
	ones, rect := 0, 0
	for i := range n {
		ys := make([]uint64, nn)
		for k := range ys {
			ys[k] = br.read(uint(ell))
		}
		key := ys[choice[i]]
		for k, y := range ys {
			if k != int(choice[i]) {
				ones += bits.OnesCount64(y ^ key)
			}
		}
		for a := range nn / 4 {
			rect += bits.OnesCount64(ys[4*a] ^ ys[4*a+1] ^ ys[4*a+2] ^ ys[4*a+3])
		}
	}
	balanced(t, cfg.String()+": other messages under the receiver's key", ones, n*(nn-1)*ell)
	balanced(t, cfg.String()+": XOR of four keys 4a..4a+3", rect, n*nn/4*ell)
}
