package ot

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// SoftSpoken OT extension (Roy, "SoftSpokenOT: Quieter OT Extension from
// Small-Field Silent VOLE in the Minicrypt Model", Crypto 2022), the
// semi-honest protocol with the repetition code, as a drop-in source of
// the same 128 columns IKNP makes (iknp.go): after the transpose the rows
// are the same correlated OTs q_i = t_i ⊕ r_i·Δ, so everything built on
// the rows (ROT, Send, SendCorrelated…) is unchanged.
//
// The 128 columns are cut into blocks of k columns (the last block takes
// the rest when k does not divide 128). Per block b, with δ_b the k bits of
// Δ of its columns:
//
//   - setup: the receiver R holds 2^k leaf seeds s_x (x ∈ {0,1}^k), the
//     leaves of a GGM tree; the sender S learns every leaf but s_{δ_b} (a
//     punctured PRF): per tree level one of the 128 base OTs (the one of
//     column c0 + k − l at level l, whose choice bit is S's path bit) pads
//     the XOR of the level's nodes on the side off S's path. 32 bytes per
//     level, 4,096 bytes for all blocks, one message R → S.
//   - extend n OTs with R's choice bits r: each leaf seed expands to n bits
//     F_x = G(s_x). R computes u = ⊕_x F_x and v_c = ⊕_{x: x_c=1} F_x
//     (c < k) and sends u ⊕ r (n bits per block). S computes
//     w_c = ⊕_{x ≠ δ_b} (x_c ⊕ δ_c)·F_x = v_c ⊕ δ_c·u from the leaves it
//     knows (the term of x = δ_b has coefficient 0) and corrects with
//     δ_c·(u ⊕ r): w_c ⊕ δ_c·(u ⊕ r) = v_c ⊕ δ_c·r. Column c0 + c is v_c on
//     R's side and that value on S's: q^j = t^j ⊕ Δ_j·r as in IKNP.
//
// So an OT costs ⌈128/k⌉ bits of traffic (IKNP: 128) for 2^k/k times the
// PRG work per column. Security (semi-honest): R's message u ⊕ r is
// one-time-padded by u, which is pseudo-random to S because F_{δ_b} is (S
// lacks s_{δ_b}, and the GGM tree hides it given the other leaves); S sees
// nothing else. R's view is S's nothing: S sends no message. The GGM tree
// and the leaf expansion are AES-128 with the node's seed as key (counter
// mode, ring.PRG and crypto/cipher's CTR): PRGs if AES is a PRP. Every
// leaf stream continues across calls, so no pad is reused. k = 1 is IKNP
// with one tree of two leaves per column.

// MaxSoftSpokenK is the largest SoftSpoken k: 2^k leaves per block are
// expanded for every OT, so k = 8 already costs 32 AES blocks per OT.
const MaxSoftSpokenK = 8

// ssBlock is one block of k columns.
type ssBlock struct {
	c0, k  int
	delta  int             // sender: δ_b (bit c = Δ_{c0+c}); receiver: unused
	leaves []cipher.Stream // 2^k leaf PRGs; the sender's leaves[δ_b] is nil
}

// ssSide is one party's SoftSpoken state: the blocks covering the 128
// columns and a scratch buffer of leaf outputs.
type ssSide struct {
	k      int
	blocks []ssBlock
	buf    []uint64
}

// ssChunk is how many words of a column are expanded at once per leaf
// (2^k·ssChunk words of scratch: 128 KiB at k = 8).
const ssChunk = 64

func checkSoftSpokenK(k int) error {
	if k < 1 || k > MaxSoftSpokenK {
		return fmt.Errorf("ot: SoftSpoken k = %d, want 1..%d", k, MaxSoftSpokenK)
	}
	return nil
}

// ssLayout returns the blocks (first column and width) for parameter k.
func ssLayout(k int) []ssBlock {
	var bs []ssBlock
	for c0 := 0; c0 < Kappa; c0 += k {
		bs = append(bs, ssBlock{c0: c0, k: min(k, Kappa-c0)})
	}
	return bs
}

// ggmChildren expands a tree node into its two children, AES_s(0) and
// AES_s(1) (the first two blocks of ring.PRG's counter-mode stream,
// without its buffer: the trees have up to 2^9 nodes per block).
func ggmChildren(s ring.Seed) (l, r ring.Seed) {
	c, err := aes.NewCipher(s[:])
	if err != nil {
		panic("ot: AES-128 key setup: " + err.Error()) // unreachable: 16-byte key
	}
	r[15] = 1
	c.Encrypt(l[:], l[:])
	c.Encrypt(r[:], r[:])
	return l, r
}

func leafStream(s ring.Seed) cipher.Stream {
	c, err := aes.NewCipher(s[:])
	if err != nil {
		panic("ot: AES-128 key setup: " + err.Error()) // unreachable: 16-byte key
	}
	var iv [aes.BlockSize]byte
	return cipher.NewCTR(c, iv[:])
}

func xorSeed(a, b ring.Seed) (c ring.Seed) {
	for i := range c {
		c[i] = a[i] ^ b[i]
	}
	return c
}

// ssSetupReceiver builds the GGM trees from fresh roots and sends, per
// block and level l = 1..k, the two padded level sums (keys are the base
// OT seed pairs of the 128 columns).
func ssSetupReceiver(c transport.Conn, k int, keys [][2]ring.Seed) (*ssSide, error) {
	side := &ssSide{k: k, blocks: ssLayout(k)}
	msg := make([]byte, 0, 32*Kappa)
	for bi := range side.blocks {
		b := &side.blocks[bi]
		root, err := ring.NewSeed()
		if err != nil {
			return nil, fmt.Errorf("ot: SoftSpoken tree root: %w", err)
		}
		level := []ring.Seed{root}
		for l := 1; l <= b.k; l++ {
			next := make([]ring.Seed, 2*len(level))
			var sum [2]ring.Seed
			for p, s := range level {
				next[2*p], next[2*p+1] = ggmChildren(s)
				sum[0] = xorSeed(sum[0], next[2*p])
				sum[1] = xorSeed(sum[1], next[2*p+1])
			}
			// The sender's path bit at level l is Δ of column c0+k−l; with
			// base seed k^d it must learn the sum of side 1−d.
			key := keys[b.c0+b.k-l]
			e0, e1 := xorSeed(sum[1], key[0]), xorSeed(sum[0], key[1])
			msg = append(msg, e0[:]...)
			msg = append(msg, e1[:]...)
			level = next
		}
		b.leaves = make([]cipher.Stream, len(level))
		for x, s := range level {
			b.leaves[x] = leafStream(s)
		}
	}
	if err := c.Send(msg); err != nil {
		return nil, fmt.Errorf("ot: sending the SoftSpoken trees: %w", err)
	}
	return side, nil
}

// ssSetupSender receives the padded level sums and rebuilds every leaf
// but the one at δ_b of each block (seeds are the base OT seeds it chose
// by the bits of Δ).
func ssSetupSender(c transport.Conn, k int, delta Block, seeds []ring.Seed) (*ssSide, error) {
	side := &ssSide{k: k, blocks: ssLayout(k)}
	msg, err := transport.RecvExact(c, 32*Kappa)
	if err != nil {
		return nil, fmt.Errorf("ot: receiving the SoftSpoken trees: %w", err)
	}
	off := 0
	for bi := range side.blocks {
		b := &side.blocks[bi]
		for c := range b.k {
			b.delta |= int(delta.Bit(b.c0+c)) << c
		}
		// known[p] is node p of the current level; the path node is unknown.
		known := []ring.Seed{{}}
		path := 0
		for l := 1; l <= b.k; l++ {
			d := b.delta >> (b.k - l) & 1
			next := make([]ring.Seed, 2*len(known))
			var sum ring.Seed // known nodes of this level on side 1−d
			for p, s := range known {
				if p == path {
					continue
				}
				next[2*p], next[2*p+1] = ggmChildren(s)
				sum = xorSeed(sum, next[2*p+1-d])
			}
			e := ring.Seed(msg[off+16*d : off+16*d+16])
			off += 32
			path = 2*path + d
			next[path^1] = xorSeed(xorSeed(e, seeds[b.c0+b.k-l]), sum)
			known = next
		}
		b.leaves = make([]cipher.Stream, len(known))
		for x, s := range known {
			if x != b.delta {
				b.leaves[x] = leafStream(s)
			}
		}
	}
	return side, nil
}

// words views a []uint64 as bytes, for the key stream to run in place.
func words(b []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), 8*len(b))
}

// littleEndian reports whether uint64 memory holds little-endian bytes;
// elsewhere the leaf words are byte-swapped so that word i is stream bytes
// 8i..8i+7 little-endian on every machine (the peer may differ).
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// columns expands the next w words of every leaf, ssChunk words at a
// time, so that the columns of a chunk stay in cache until they are
// transposed: per chunk of m words at word off it writes, for every block,
// the k columns (v_c on the receiver, w_c on the sender) into cols[j][:m]
// (overwritten; cols holds ssChunk words per column) and the receiver's u
// into us[bi][off:off+m] (sender: us is nil), then calls done(off, m).
// The sender relabels its leaves by y = x ⊕ δ_b, so both sides run the
// same tree sum: with G_y the leaf of index y (zero where unknown), the
// sum over pairs that differ in bit c of the right halves is
// ⊕_{y: y_c=1} G_y.
func (s *ssSide) columns(cols *[Kappa][]uint64, us [][]uint64, w int, sender bool, done func(off, m int)) {
	chunk := min(w, ssChunk)
	for off := 0; off < w; off += chunk {
		m := min(chunk, w-off)
		for bi := range s.blocks {
			b := &s.blocks[bi]
			nl := 1 << b.k
			if len(s.buf) < nl*chunk {
				s.buf = make([]uint64, nl*chunk)
			}
			leaf := func(y int) []uint64 { return s.buf[y*chunk : y*chunk+m] }
			for x := range nl {
				y := x
				if sender {
					y = x ^ b.delta
				}
				f := leaf(y)
				clear(f)
				if b.leaves[x] != nil {
					bs := words(f)
					b.leaves[x].XORKeyStream(bs, bs)
					if !littleEndian {
						for i := range f {
							f[i] = bits.ReverseBytes64(f[i])
						}
					}
				}
			}
			for c := range b.k {
				step := 1 << c
				col := cols[b.c0+c][:m]
				lo, hi := leaf(0), leaf(step)
				copy(col, hi) // the pair y = 0 sets the column: no clearing first
				for i := range m {
					lo[i] ^= hi[i]
				}
				for y := 2 * step; y < nl; y += 2 * step {
					lo, hi := leaf(y), leaf(y+step)
					for i := range m {
						col[i] ^= hi[i]
						lo[i] ^= hi[i]
					}
				}
			}
			if !sender {
				copy(us[bi][off:off+m], leaf(0))
			}
		}
		done(off, m)
	}
}

// receiverCols makes the receiver's rows t_i (the first n of them, into
// rows, chunk by chunk) for choice words rw and returns the correction
// message (u ⊕ r per block, w = len(rw) words each); cols is chunk scratch
// (ssChunk words per column), aux scratch for the u's, buf for the
// message. On a little-endian machine the u's are made in the message
// itself.
func (s *ssSide) receiverCols(cols *[Kappa][]uint64, rw []uint64, n int, rows rowWriter, aux *[]uint64, buf *[]byte) []byte {
	w := len(rw)
	msg := grow(buf, len(s.blocks)*w*8)
	slab, direct := asWords(msg)
	if !direct {
		slab = grow(aux, len(s.blocks)*w)
	}
	us := make([][]uint64, len(s.blocks))
	for bi := range us {
		us[bi] = slab[bi*w : (bi+1)*w : (bi+1)*w]
	}
	s.columns(cols, us, w, false, func(off, m int) {
		for _, u := range us {
			for k := off; k < off+m; k++ {
				u[k] ^= rw[k]
			}
		}
		rows.put(cols, m, off*64, n)
	})
	if !direct {
		for bi, u := range us {
			transport.EncodeUint64s(msg[bi*w*8:(bi+1)*w*8], u)
		}
	}
	return msg
}

// asWords views b (a multiple of 8 bytes) as little-endian words where the
// machine is little-endian and b is 8-byte aligned (ok); else it returns
// false and the caller converts.
func asWords(b []byte) (w []uint64, ok bool) {
	if !littleEndian || len(b)%8 != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		return nil, false
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8), true
}

// msgBytes is the size of the correction message for w words per column.
func (s *ssSide) msgBytes(w int) int { return len(s.blocks) * w * 8 }

// senderCols makes the sender's rows q_i (the first n of them, into
// rows, chunk by chunk) from the receiver's correction message (already
// checked to be msgBytes(w) long); cols is chunk scratch, aux scratch.
func (s *ssSide) senderCols(cols *[Kappa][]uint64, msg []byte, w, n int, rows rowWriter, aux *[]uint64) error {
	all, direct := asWords(msg)
	if !direct {
		all = grow(aux, len(s.blocks)*w)
		for bi := range s.blocks {
			if err := transport.DecodeUint64s(all[bi*w:(bi+1)*w], msg[bi*w*8:(bi+1)*w*8]); err != nil {
				return fmt.Errorf("ot: SoftSpoken correction: %w", err)
			}
		}
	}
	s.columns(cols, nil, w, true, func(off, m int) {
		for bi := range s.blocks {
			b := &s.blocks[bi]
			d := all[bi*w+off : bi*w+off+m]
			for c := range b.k {
				if b.delta>>c&1 == 1 {
					col := cols[b.c0+c][:m]
					for i := range m {
						col[i] ^= d[i]
					}
				}
			}
		}
		rows.put(cols, m, off*64, n)
	})
	return nil
}
