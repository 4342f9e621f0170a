package ot

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"

	"github.com/autorep/autorep/ring"
)

func randBlock(t *testing.T) Block {
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
func dealtCOTs(t *testing.T, delta Block, n int) (q, r []Block, b []byte) {
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
