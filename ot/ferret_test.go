package ot

import (
	"crypto/rand"
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
