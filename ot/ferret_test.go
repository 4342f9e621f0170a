package ot

import (
	"crypto/rand"
	"math/bits"
	mrand "math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

func randBlock(t testing.TB) Block {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return blockFromBytes(b[:])
}

// ggmRef is the plain recursive GGM tree: the leaves of seed at depth h.
func ggmRef(seed Block, h int) []Block {
	if h == 0 {
		return []Block{seed}
	}
	left := perm(seed).Xor(seed)
	r := seed.Xor(Block{Lo: 1})
	right := perm(r).Xor(r)
	a, b := ggmRef(left, h-1), ggmRef(right, h-1)
	// Interleave by the top bit: leaf index = (top bit << (h-1)) | rest.
	return append(a, b...)
}

func TestGGMExpandPuncture(t *testing.T) {
	for _, h := range []int{1, 2, 5} {
		seed := randBlock(t)
		n := 1 << h
		leaves := make([]Block, n)
		k0, k1 := make([]Block, h), make([]Block, h)
		var tmp []Block
		ggmExpand(seed, leaves, k0, k1, &tmp)
		ref := ggmRef(seed, h)
		for j := range n {
			if leaves[j] != ref[j] {
				t.Fatalf("h=%d: leaf %d differs from the recursive tree", h, j)
			}
		}
		for alpha := range n {
			kn := make([]Block, h)
			for l := range h {
				if alpha>>(h-1-l)&1 == 0 {
					kn[l] = k1[l]
				} else {
					kn[l] = k0[l]
				}
			}
			got := make([]Block, n)
			ggmPuncture(alpha, kn, got, &tmp)
			for j := range n {
				want := ref[j]
				if j == alpha {
					want = Block{}
				}
				if got[j] != want {
					t.Fatalf("h=%d α=%d: leaf %d wrong", h, alpha, j)
				}
			}
		}
	}
}

// dealtCOTs returns n COTs with Δ made locally: sender q, receiver r =
// q ⊕ b·Δ with random b.
func dealtCOTs(t testing.TB, delta Block, n int) (q, r []Block, b []byte) {
	q, r, b = make([]Block, n), make([]Block, n), make([]byte, n)
	for i := range n {
		q[i] = randBlock(t)
		b[i] = byte(q[i].Lo>>7&1 ^ q[i].Hi&1)
		r[i] = q[i]
		if b[i] == 1 {
			r[i] = r[i].Xor(delta)
		}
	}
	return
}

func TestMPCOT(t *testing.T) {
	const trees, h = 5, 4
	delta := randBlock(t)
	q, r, b := dealtCOTs(t, delta, trees*h)
	seeds := make([]Block, trees)
	for i := range seeds {
		seeds[i] = randBlock(t)
	}
	n := trees << h
	ws, wr := make([]Block, n), make([]Block, n)
	var ss, rs ferretScratch
	msg := mpcotSend(delta, q, seeds, h, 77, ws, &ss)
	alphas, err := mpcotRecv(r, b, trees, h, 77, msg, wr, &rs)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range alphas {
		want := 0
		for l := range h {
			want = want<<1 | int(1-b[i*h+l])
		}
		if a != want {
			t.Fatalf("tree %d punctured at %d, want %d (the receiver's choice bits)", i, a, want)
		}
		ref := ggmRef(seeds[i], h)
		for j := range 1 << h {
			p := i<<h + j
			if ws[p] != ref[j] {
				t.Fatalf("tree %d: sender leaf %d is not the GGM leaf", i, j)
			}
			want := ws[p]
			if j == a {
				want = want.Xor(delta)
			}
			if wr[p] != want {
				t.Fatalf("tree %d leaf %d: receiver %v, want sender ⊕ [j = α]·Δ", i, j, wr[p])
			}
		}
	}
	// Another tweak base: the receiver's hashes no longer unmask the keys.
	if _, err := mpcotRecv(r, b, trees, h, 78, msg, wr, &rs); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, a := range alphas {
		for j := range 1 << h {
			if j != a && wr[i<<h+j] != ws[i<<h+j] {
				bad++
			}
		}
	}
	if bad == 0 {
		t.Fatal("the receiver rebuilt the trees under the wrong tweaks")
	}
	for _, cut := range []int{0, 1, len(msg) - 1, len(msg) + 16} {
		m := make([]byte, cut)
		copy(m, msg)
		if _, err := mpcotRecv(r, b, trees, h, 77, m, wr, &rs); err == nil {
			t.Fatalf("a %d-byte tree message was accepted", cut)
		}
	}
}

func TestLPNEncode(t *testing.T) {
	var seed ring.Seed
	copy(seed[:], "lpn test seed...")
	for _, c := range []struct{ n, k int }{{1, 3}, {5000, 37}, {lpnChunk, 1000}, {3*lpnChunk + 5, 257}} {
		key := make([]Block, c.k)
		keyBits := make([]byte, c.k)
		for i := range key {
			key[i] = randBlock(t)
			keyBits[i] = byte(key[i].Lo & 1)
		}
		out, bits := make([]Block, c.n), make([]byte, c.n)
		want, wantBits := make([]Block, c.n), make([]byte, c.n)
		for i := range out {
			out[i] = randBlock(t)
			bits[i] = byte(out[i].Hi & 1)
			want[i], wantBits[i] = out[i], bits[i]
		}
		var idx []uint64
		lpnEncode(seed, key, out, keyBits, bits, &idx)
		// The plain definition: row i's 10 columns are the 32-bit halves
		// of the PRG's words 5i..5i+4, each scaled into [0, k).
		prg := ring.NewPRG(seed)
		for i := range c.n {
			for range lpnD / 2 {
				x := prg.Uint64()
				for _, h := range []uint64{x & 0xffffffff, x >> 32} {
					col := int(h * uint64(c.k) >> 32)
					if col >= c.k {
						t.Fatalf("column %d of %d", col, c.k)
					}
					want[i] = want[i].Xor(key[col])
					wantBits[i] ^= keyBits[col]
				}
			}
			if out[i] != want[i] || bits[i] != wantBits[i] {
				t.Fatalf("n=%d k=%d: row %d differs from the plain encoding", c.n, c.k, i)
			}
		}
	}
}

func init() { allowTinyFerret = true }

// ferretSessions sets up two sessions with Ferret; both sides' buffers
// start with what the bootstrap left.
func ferretSessions(t testing.TB, set FerretParams, k int) (*Session, *Session) {
	s0, s1, _, _ := sessionsCfg(t, Config{K: k, Ferret: set})
	for _, s := range []*Session{s0, s1} {
		if s.Send.fe == nil || s.Recv.fe == nil || s.MulSend != s.Send {
			t.Fatalf("%v: session without Ferret on both sides", s.Config)
		}
	}
	return s0, s1
}

// TestFerretCOT: every COT a Ferret session makes, in both directions and
// over batches that fit the buffer, exhaust it (the rest from the
// extension) and follow refills, satisfies t_i = q_i ⊕ c_i·Δ with the
// sender's Δ; the buffer serves most of them.
func TestFerretCOT(t *testing.T) {
	for _, k := range []int{0, 4} {
		s0, s1 := ferretSessions(t, ferretTiny, k)
		rng := mrand.New(mrand.NewPCG(uint64(k), 9))
		served, total := 0, 0
		for _, n := range []int{1, 100, 1700, 3000, 5, 4000, 4000, 1636, 1} {
			for dir := range 2 {
				snd, rcv := s0.Send, s1.Recv
				if dir == 1 {
					snd, rcv = s1.Send, s0.Recv
				}
				choice := randBits(rng, n)
				var q []Block
				errs := make(chan error, 1)
				go func() { var err error; q, err = snd.COT(n); errs <- err }()
				tr, err := rcv.COT(choice)
				if err != nil {
					t.Fatal(err)
				}
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
				d := snd.Delta()
				for i := range n {
					want := q[i]
					if choice[i] == 1 {
						want = want.Xor(d)
					}
					if tr[i] != want {
						t.Fatalf("k=%d n=%d dir %d: COT %d breaks the correlation", k, n, dir, i)
					}
				}
				total += n
			}
		}
		for _, p := range [][2]*Session{{s0, s1}, {s1, s0}} {
			snd, rcv := p[0].Send.fe, p[1].Recv.fe
			if snd.iters < 3 || snd.iters != rcv.iters {
				t.Fatalf("k=%d: %d and %d iterations", k, snd.iters, rcv.iters)
			}
			served += snd.served
		}
		// Batches above one iteration's yield (1,636 COTs here) take the
		// excess from the extension.
		if served < total/2 {
			t.Fatalf("k=%d: Ferret served %d of %d COTs", k, served, total)
		}
	}
}

// TestFerretOneOfN runs the 1-out-of-N checks (rows streamed in chunks,
// OTs straddling them) over Ferret COTs.
func TestFerretOneOfN(t *testing.T) {
	testOneOfN(t, Config{Ferret: ferretTiny})
	testOneOfN(t, Config{K: 4, Ferret: FerretSmall})
}

// TestFerretInterleaved: the multiplexer's order (otgates.Select) with
// Ferret refills due: party 0 makes its receive's matrix, then sends in
// the other direction (taking in party 1's matrix) and only then sends
// its own, while party 1 receives first. Refills travel with payloads,
// so nobody waits on a matrix; the additive correlations come out right.
func TestFerretInterleaved(t *testing.T) {
	s0, s1 := ferretSessions(t, ferretTiny, 4)
	rng := mrand.New(mrand.NewPCG(21, 22))
	const ell = 37
	for _, n := range []int{1000, 1500, 700, 3000, 10} {
		d0, d1 := randBits(rng, n), randBits(rng, n)
		x0, x1 := make([]uint64, n), make([]uint64, n)
		for i := range n {
			x0[i], x1[i] = rng.Uint64()&mask(ell), rng.Uint64()&mask(ell)
		}
		var a0, b0, a1, b1 []uint64 // party p: its X as sender (a), Y as receiver (b)
		errs := make(chan error, 1)
		go func() {
			errs <- func() error {
				var err error
				pend, err := s0.Recv.PrepareCorrelatedWidths(d0, uniform(n, ell))
				if err != nil {
					return err
				}
				if a0, err = s0.Send.SendCorrelated(x0, ell); err != nil {
					return err
				}
				if err := pend.Send(); err != nil {
					return err
				}
				b0, err = pend.Finish()
				return err
			}()
		}()
		var err error
		if b1, err = s1.Recv.ReceiveCorrelated(d1, ell); err != nil {
			t.Fatal(err)
		}
		if a1, err = s1.Send.SendCorrelated(x1, ell); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if b1[i] != (a0[i]+uint64(d1[i])*x0[i])&mask(ell) || b0[i] != (a1[i]+uint64(d0[i])*x1[i])&mask(ell) {
				t.Fatalf("n=%d: correlated OT %d wrong", n, i)
			}
		}
	}
	if s0.Send.fe.iters < 3 || s1.Send.fe.iters < 3 {
		t.Fatalf("only %d and %d refills", s0.Send.fe.iters, s1.Send.fe.iters)
	}
}

// ferretCOTs runs batches of COTs from snd to rcv with the given choices
// (the receiver's side returned).
func ferretCOTs(t *testing.T, snd *Sender, rcv *Receiver, choice []byte) []Block {
	t.Helper()
	errs := make(chan error, 1)
	go func() { _, err := snd.COT(len(choice)); errs <- err }()
	r, err := rcv.COT(choice)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFerretHostile: a Ferret matrix with a bad header or size, a payload
// or iteration message of the wrong size, is an error, never a panic.
func TestFerretHostile(t *testing.T) {
	s0, s1 := ferretSessions(t, ferretTiny, 4)
	for range 3 {
		ferretCOTs(t, s0.Send, s1.Recv, make([]byte, 1000))
	}
	avail := len(s0.Send.fe.buf) - s0.Send.fe.off
	if avail < 200 {
		t.Fatalf("buffer holds %d COTs", avail)
	}
	header := func(m, refill int, rest int) []byte {
		b := make([]byte, ferretHeader+rest)
		b[0], b[1], b[2] = byte(m), byte(m>>8), byte(m>>16)
		b[4], b[5] = byte(refill), byte(refill>>8)
		return b
	}
	ext := s0.Send.matrixBytes
	for _, tc := range []struct {
		what string
		n    int
		msg  []byte
	}{
		{"no header", 100, make([]byte, 5)},
		{"m > n", 100, header(101, 0, 13)},
		{"m > buffer", avail + 10, header(avail+1, 0, (avail+8)/8+ext(9))},
		{"too many refills", 100, header(100, ferretSets[ferretTiny].maxRefill()+1, 13)},
		{"one byte short", 100, header(100, 0, 12)},
		{"one byte long", 100, header(100, 0, 14)},
		{"extension part short", 100, header(50, 0, 7+ext(50)-1)},
	} {
		ca, cb := transport.Pipe()
		if err := cb.Send(tc.msg); err != nil {
			t.Fatal(err)
		}
		s := *s0.Send
		fe := *s.fe
		s.fe, s.c = &fe, ca
		if _, err := s.COT(tc.n); err == nil {
			t.Errorf("%s: matrix accepted", tc.what)
		}
	}
	// The receiver's side: a payload carrying a refill of the wrong size.
	for _, cut := range []int{-1, 1} {
		r := *s1.Recv
		fe := *r.fe
		r.fe = &fe
		fe.owed = nil
		ca, cb := transport.Pipe()
		r.c = ca
		choice := make([]byte, 10)
		p, err := r.PrepareCorrelatedWidths(choice, uniform(10, 8))
		if err != nil {
			t.Fatal(err)
		}
		fe.owed[0] = 1 // this batch asked for an iteration
		if err := p.Send(); err != nil {
			t.Fatal(err)
		}
		if err := cb.Send(make([]byte, fe.p.msgBytes()+10+cut)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Finish(); err == nil {
			t.Errorf("payload with a refill %+d bytes off accepted", cut)
		}
	}
	var f ferretReceiver
	f.p = ferretSets[ferretTiny]
	if err := f.absorb(make([]byte, f.p.msgBytes()-1)); err == nil {
		t.Error("a short iteration message was absorbed")
	}
}

// TestFerretViews: what each side receives. The sender sees the bits
// d = x ⊕ c: for all-zero and all-one choices they must be balanced (x,
// the LPN output's choice bits, pseudo-random). The receiver sees the
// iteration messages: the masked keys it cannot unmask and each tree's
// sum block c (its unknown leaf ⊕ Δ) must be balanced.
func TestFerretViews(t *testing.T) {
	s0, s1 := ferretSessions(t, ferretTiny, 4)
	tapS := privacytest.NewRecorder(s0.Send.c)
	s0.Send.c = tapS
	tapR := privacytest.NewRecorder(s1.Recv.c)
	s1.Recv.c = tapR
	const n = 1500
	for _, c := range []byte{0, 1} {
		choice := make([]byte, n)
		for i := range choice {
			choice[i] = c
		}
		for range 8 {
			ferretCOTs(t, s0.Send, s1.Recv, choice)
		}
	}
	// Counted per choice: a leak of x would show as all zeros for one
	// and all ones for the other.
	if tapS.Len() != 16 {
		t.Fatalf("the sender received %d messages, want 16 matrices", tapS.Len())
	}
	for c := range 2 {
		ones, total := 0, 0
		for _, msg := range tapS.Messages(0)[8*c : 8*c+8] {
			m := int(msg[0]) | int(msg[1])<<8 | int(msg[2])<<16
			for j := range m {
				ones += int(msg[ferretHeader+j/8] >> (j % 8) & 1)
			}
			total += m
		}
		if total < 4*n {
			t.Fatalf("choice %d: the buffer served %d COTs", c, total)
		}
		balanced(t, "the choice corrections d", ones, total)
	}
	ones, total := 0, 0
	p := ferretSets[ferretTiny]
	f := s1.Recv.fe
	for i := range tapR.Len() {
		msg := tapR.Messages(i)[0]
		if len(msg) != p.msgBytes() {
			continue // not an iteration
		}
		tree := msg[ring.SeedSize:]
		for j := range p.t * p.h {
			// The receiver's choice bit of tree COT j is unknown here;
			// both masked keys must look random to anyone without Δ or
			// the sender's hashes, so count both.
			for b := range 2 {
				x := getBlock(tree[(2*j+b)*16:])
				ones += bits.OnesCount64(x.Lo) + bits.OnesCount64(x.Hi)
				total += 128
			}
		}
		for i := range p.t {
			x := getBlock(tree[(2*p.t*p.h+i)*16:])
			ones += bits.OnesCount64(x.Lo) + bits.OnesCount64(x.Hi)
			total += 128
		}
	}
	if total == 0 || f.iters < 2 {
		t.Fatalf("no iteration messages (%d iterations)", f.iters)
	}
	balanced(t, "the iteration messages", ones, total)
}
