package helinear

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Client is the party holding the secret key (party 1): it encrypts its
// input shares and decrypts the server's masked results. Not safe for
// concurrent use; after an error the session must be discarded.
type Client struct {
	P    *Params
	Conn transport.Conn
	sk   lring.Poly // NTT domain
	prg  *ring.PRG
}

// Server is the party holding the weights (party 0). Not safe for
// concurrent use; after an error the session must be discarded.
type Server struct {
	P        *Params
	Conn     transport.Conn
	pk0, pk1 lring.Poly  // client's public key (−a'·s + e', a'), NTT domain
	keys     []galoisKey // client's Galois keys (packing)
	prg      *ring.PRG
}

// NewClient generates the client's keys and sends its public key (one
// polynomial and a 16-byte seed for the uniform one) and its Galois keys
// (Params.numKeys of them, a seed and the b polynomials) in one message
// over c, for weights of any size (NewParams).
func NewClient(c transport.Conn, ell uint) (*Client, error) {
	p, err := NewParams(ell)
	if err != nil {
		return nil, err
	}
	return NewClientParams(c, p)
}

// NewClientParams is NewClient with parameters of the caller's choice
// (NewParamsW: a public bound on the weights); the server must use the
// same.
func NewClientParams(c transport.Conn, p *Params) (*Client, error) {
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	cl := &Client{P: p, Conn: c, sk: p.r.NewPoly(), prg: prg}
	s := ternary(prg)
	setSigned(p.Q, s, cl.sk)
	p.r.NTT(cl.sk, cl.sk)
	msg, err := cl.encryptWith(p.pkLevel(), nil)
	if err != nil {
		return nil, err
	}
	if msg, err = cl.genKeys(s, msg); err != nil {
		return nil, err
	}
	if err := c.Send(msg); err != nil {
		return nil, fmt.Errorf("helinear: sending public key: %w", err)
	}
	return cl, nil
}

// NewServer receives the client's public key over c (weights of any
// size: NewParams).
func NewServer(c transport.Conn, ell uint) (*Server, error) {
	p, err := NewParams(ell)
	if err != nil {
		return nil, err
	}
	return NewServerParams(c, p)
}

// NewServerParams is NewServer with parameters of the caller's choice
// (NewParamsW); the client must use the same.
func NewServerParams(c transport.Conn, p *Params) (*Server, error) {
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	b, err := transport.RecvExact(c, p.keysMsgBytes())
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving public key: %w", err)
	}
	n := min(len(b), ring.SeedSize+p.freshBytes())
	c0, c1, err := p.parseFresh(b[:n], 1, p.pkLevel())
	if err != nil {
		return nil, fmt.Errorf("helinear: public key: %w", err)
	}
	keys, err := p.parseKeys(b[n:])
	if err != nil {
		return nil, err
	}
	return &Server{P: p, Conn: c, pk0: c0[0], pk1: c1[0], keys: keys, prg: prg}, nil
}

// encryptWith encrypts each message of ms (nil: one encryption of zero)
// at level lv under the secret key in NTT form, c0 = −a·s + e + ⌊Qm/t⌉,
// c1 = a with all a drawn from one fresh seed, and returns the wire
// message: the seed followed by the c0 words.
func (cl *Client) encryptWith(lv *level, ms [][]uint64) ([]byte, error) {
	p := cl.P
	r, b, err := p.ring(lv)
	if err != nil {
		return nil, err
	}
	seed, err := ring.NewSeed()
	if err != nil {
		return nil, err
	}
	n := max(len(ms), 1)
	out := make([]byte, ring.SeedSize, ring.SeedSize+n*lv.freshBytes())
	copy(out, seed[:])
	aPRG := ring.NewPRG(seed)
	a, e, m := r.NewPoly(), r.NewPoly(), r.NewPoly()
	sk := lv.rowsOf(cl.sk)
	for x := range n {
		rq.UniformPoly(aPRG, lv.q, a)
		rq.SmallPoly(cl.prg, lv.q, e, false)
		if ms != nil {
			p.encodeScaled(b, ms[x], m)
			r.Add(e, m, e)
		}
		r.NTT(e, e)
		r.MulCoeffsBarrett(a, sk, a)
		r.Sub(e, a, e)
		for i := range lv.q {
			out = rq.PackSeg(out, e.Coeffs[i], lv.width(i))
		}
	}
	return out, nil
}

// top is the level of all primes.
func (p *Params) top() *level { return p.levels[len(p.levels)-1] }

// pkLevel is the public key's level, Q″: every answer is re-randomised
// there (Server.run).
func (p *Params) pkLevel() *level { return p.mLevel }

// freshBytes is the packed size of the public key's c0 (over Q″).
func (p *Params) freshBytes() int { return p.pkLevel().freshBytes() }

// keysMsgBytes is the size of the client's key message: the public key,
// then (with packing) the Galois keys, each with its seed.
func (p *Params) keysMsgBytes() int {
	n := ring.SeedSize + p.freshBytes()
	if p.PackLog > 0 {
		n += ring.SeedSize + p.keyBytes()
	}
	return n
}

// replyBytes is the packed size of one answer with nt targets.
func (p *Params) replyBytes(nt int) int {
	n := 0
	for i := range p.ReplyPrimes {
		n += rq.SegBytes(N, p.width(i))
		if p.C0Bits == 0 {
			n += rq.SegBytes(nt, p.width(i))
		}
	}
	if p.C0Bits > 0 {
		n += rq.SegBytes(nt, p.C0Bits)
	}
	return n
}

// unpackReply reads one answer with nt targets from b (which the caller
// has checked holds it): c1 mod Q' in full and c0 at the targets, prime
// by prime (or, with C0Bits, mod 2^C0Bits); it returns the rest of b.
func (p *Params) unpackReply(b []byte, nt int) (c1w, c0w []uint64, rest []byte) {
	kr := p.ReplyPrimes
	c1w = make([]uint64, kr*N)
	for i := range kr {
		sb := rq.SegBytes(N, p.width(i))
		rq.UnpackSeg(b[:sb], c1w[i*N:(i+1)*N], p.width(i))
		b = b[sb:]
	}
	if p.C0Bits > 0 {
		c0w = make([]uint64, nt)
		sb := rq.SegBytes(nt, p.C0Bits)
		rq.UnpackSeg(b[:sb], c0w, p.C0Bits)
		return c1w, c0w, b[sb:]
	}
	c0w = make([]uint64, kr*nt)
	for i := range kr {
		sb := rq.SegBytes(nt, p.width(i))
		rq.UnpackSeg(b[:sb], c0w[i*nt:(i+1)*nt], p.width(i))
		b = b[sb:]
	}
	return c1w, c0w, b
}

// parseFresh checks and expands a message of n fresh encryptions at
// level lv: c0 from the words, c1 from the seed.
func (p *Params) parseFresh(b []byte, n int, lv *level) (c0, c1 []lring.Poly, err error) {
	if want := ring.SeedSize + n*lv.freshBytes(); len(b) != want {
		return nil, nil, fmt.Errorf("helinear: ciphertext message of %d bytes, want %d (%d polynomials)", len(b), want, n)
	}
	r, _, err := p.ring(lv)
	if err != nil {
		return nil, nil, err
	}
	var seed ring.Seed
	copy(seed[:], b)
	b = b[ring.SeedSize:]
	words := N * len(lv.q)
	w := make([]uint64, n*words)
	aPRG := ring.NewPRG(seed)
	for x := range n {
		pw := w[x*words : (x+1)*words]
		for i := range lv.q {
			sb := rq.SegBytes(N, lv.width(i))
			rq.UnpackSeg(b[:sb], pw[i*N:(i+1)*N], lv.width(i))
			b = b[sb:]
		}
		if err := checkPoly(lv.q, pw, N); err != nil {
			return nil, nil, err
		}
		c0 = append(c0, polyFromWords(pw))
		a := r.NewPoly()
		rq.UniformPoly(aPRG, lv.q, a)
		c1 = append(c1, a)
	}
	return c0, c1, nil
}

// run is the client's side of one layer: it encrypts the input polynomials
// of every image, sends them, and decrypts the targets of the returned
// polynomials into y (its share of W·x, batch × pl.yLen).
func (cl *Client) run(pl *plan, batch int, x []uint64) ([]uint64, error) {
	p := cl.P
	ms := make([][]uint64, 0, batch*len(pl.ins))
	for n := range batch {
		xs := x[n*pl.xLen:]
		for _, in := range pl.ins {
			m := make([]uint64, N)
			for _, e := range in {
				m[e.coef] = xs[e.idx] & p.mask
			}
			ms = append(ms, m)
		}
	}
	msg, err := cl.encryptWith(pl.lv, ms)
	if err != nil {
		return nil, err
	}
	if err := cl.Conn.Send(msg); err != nil {
		return nil, fmt.Errorf("helinear: sending input ciphertexts: %w", err)
	}
	gs := pl.groups(batch)
	want := 0
	for _, g := range gs {
		want += p.replyBytes(pl.groupTargets(g))
	}
	b, err := transport.RecvExact(cl.Conn, want)
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving result ciphertexts (%d): %w", len(gs), err)
	}
	y := make([]uint64, batch*pl.yLen)
	var coefs []int32
	for _, g := range gs {
		var c1w, c0w []uint64
		c1w, c0w, b = p.unpackReply(b, pl.groupTargets(g))
		coefs = coefs[:0]
		for a, lf := range g {
			for _, t := range pl.outs[lf.op].targets {
				coefs = append(coefs, pl.packedCoef(t.coef, a))
			}
		}
		ph, err := cl.phase(coefs, c1w, c0w)
		if err != nil {
			return nil, err
		}
		x := 0
		for _, lf := range g {
			for _, t := range pl.outs[lf.op].targets {
				if p.C0Bits > 0 {
					y[lf.n*pl.yLen+int(t.idx)] = p.decodeSplit(ph.Coeffs[0][coefs[x]], c0w[x])
				} else {
					y[lf.n*pl.yLen+int(t.idx)] = p.decodeAt(p.reply, ph, int(coefs[x]))
				}
				x++
			}
		}
	}
	return y, nil
}

// leaf is one answer: image n's output polynomial op.
type leaf struct{ n, op int }

// groups lists the answers of a batch (image-major) in packs of 2^k.
func (pl *plan) groups(batch int) [][]leaf {
	var gs [][]leaf
	for n := range batch {
		for op := range pl.outs {
			if len(gs) == 0 || len(gs[len(gs)-1]) == 1<<pl.packLog {
				gs = append(gs, nil)
			}
			gs[len(gs)-1] = append(gs[len(gs)-1], leaf{n, op})
		}
	}
	return gs
}

// groupTargets is the number of outputs a packed answer carries.
func (pl *plan) groupTargets(g []leaf) int {
	n := 0
	for _, lf := range g {
		n += len(pl.outs[lf.op].targets)
	}
	return n
}

// packedCoef is where coefficient u of the a-th answer of a pack lands.
func (pl *plan) packedCoef(u int32, a int) int32 {
	if pl.packLog == 0 {
		return u
	}
	return u - (1<<pl.packLog - 1) + int32(a)
}

// phase checks one returned ciphertext (c1 in full, c0 at the target
// coefficients coefs only, both mod Q' and prime-major) and returns c1·s +
// c0 mod Q', valid at the targets; with C0Bits it returns c1·s only (c0
// is mod 2^C0Bits: decodeSplit adds it).
func (cl *Client) phase(coefs []int32, c1w, c0w []uint64) (lring.Poly, error) {
	p := cl.P
	if err := checkPoly(p.Q, c1w, N); err != nil {
		return lring.Poly{}, err
	}
	nt := len(coefs)
	if nt > 0 && p.C0Bits == 0 {
		if err := checkPoly(p.Q, c0w, nt); err != nil {
			return lring.Poly{}, err
		}
	}
	ph := p.rr.NewPoly()
	for i := range p.ReplyPrimes {
		copy(ph.Coeffs[i], c1w[i*N:(i+1)*N])
	}
	p.rr.NTT(ph, ph)
	p.rr.MulCoeffsBarrett(ph, cl.sk, ph)
	p.rr.INTT(ph, ph)
	if p.C0Bits > 0 {
		return ph, nil
	}
	for i, q := range p.Q[:p.ReplyPrimes] {
		for x, c := range coefs {
			ph.Coeffs[i][c] = rq.AddMod(ph.Coeffs[i][c], c0w[i*nt+x], q)
		}
	}
	return ph, nil
}

// weights encodes the server's weight polynomials at the layer's level
// (centred residues, NTT and Montgomery form); a weight outside WeightBits is an
// error (the flood would not cover its noise).
func (s *Server) weights(pl *plan, r *lring.Ring, w []uint64) ([]lring.Poly, error) {
	p := s.P
	half := uint64(1) << (p.Ell - 1)
	lim := int64(-1) << (p.WeightBits - 1) // −2^(WeightBits−1)
	ws := make([]lring.Poly, len(pl.ws))
	for i, es := range pl.ws {
		pw := r.NewPoly()
		for _, e := range es {
			v := w[e.idx] & p.mask
			var c int64
			if p.Ell == 64 {
				c = int64(v)
			} else if v >= half {
				c = int64(v) - int64(half<<1)
			} else {
				c = int64(v)
			}
			if p.WeightBits < 64 && (c < lim || c >= -lim) {
				return nil, fmt.Errorf("helinear: weight %d (element %d) outside the %d-bit bound", c, e.idx, p.WeightBits)
			}
			for k, q := range pl.lv.q {
				pw.Coeffs[k][e.coef] = signedMod(c, q)
			}
		}
		r.NTT(pw, pw)
		r.MForm(pw, pw) // Montgomery products in answer
		ws[i] = pw
	}
	return ws, nil
}

// run is the server's side of one layer: it returns the mask share
// −r (batch × pl.yLen) whose sum with the client's output is W·x_c.
func (s *Server) run(pl *plan, batch int, w []uint64) ([]uint64, error) {
	p, lv := s.P, pl.lv
	pr, _, err := p.ring(lv)
	if err != nil {
		return nil, err
	}
	ws, err := s.weights(pl, pr, w)
	if err != nil {
		return nil, err
	}
	b, err := transport.RecvExact(s.Conn, ring.SeedSize+batch*len(pl.ins)*lv.freshBytes())
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving input ciphertexts: %w", err)
	}
	c0s, c1s, err := p.parseFresh(b, batch*len(pl.ins), lv)
	if err != nil {
		return nil, err
	}
	k := pl.packLog
	if k > 0 && len(s.keys) != p.numKeys() {
		return nil, fmt.Errorf("helinear: packing 2^%d answers without the Galois keys", k)
	}
	// The packed answers are independent: GOMAXPROCS workers take them in
	// turn, each with its own buffers and a PRG of its own fresh seed, and
	// the message is their parts in order.
	gs := pl.groups(batch)
	y := make([]uint64, batch*pl.yLen)
	parts := make([][]byte, len(gs))
	nw := min(runtime.GOMAXPROCS(0), len(gs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range nw {
		seed, err := ring.NewSeed()
		if err != nil {
			return nil, err
		}
		wk := s.newWorker(pr, ring.NewPRG(seed))
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(gs) {
					return
				}
				parts[i] = s.answer(wk, pr, pl, c0s, c1s, ws, gs[i], y)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, b := range parts {
		n += len(b)
	}
	msg := make([]byte, 0, n)
	for _, b := range parts {
		msg = append(msg, b...)
	}
	if err := s.Conn.Send(msg); err != nil {
		return nil, fmt.Errorf("helinear: sending result ciphertexts: %w", err)
	}
	return y, nil
}

// worker is one goroutine's state in Server.run.
type worker struct {
	pk         *packer
	prg        *ring.PRG
	acc0, acc1 lring.Poly // products at the layer's level
	r, tw      []uint64
}

func (s *Server) newWorker(pr *lring.Ring, prg *ring.PRG) *worker {
	return &worker{pk: newPacker(s.P, s.keys), prg: prg, acc0: pr.NewPoly(), acc1: pr.NewPoly(),
		r: make([]uint64, N), tw: make([]uint64, 0, N)}
}

// answer computes the packed answer of the answers g (image n's output
// polynomial op each) from the client's ciphertexts (c0s, c1s) and the
// weight polynomials ws, writes the server's mask shares into y and
// returns the answer's wire bytes: switched from Q″ to Q', c1 in full and
// c0 at the targets.
func (s *Server) answer(wk *worker, pr *lring.Ring, pl *plan, c0s, c1s, ws []lring.Poly, g []leaf, y []uint64) []byte {
	p, k := s.P, pl.packLog
	// Each answer's products, switched to Q″ (the level's first k'+1
	// primes), are a leaf of the pack (k = 0: one answer as it is).
	c := wk.pk.packTree(0, 0, k, len(g), func(a int, dst *ct) {
		n, op := g[a].n, pl.outs[g[a].op]
		wk.acc0.Zero()
		wk.acc1.Zero()
		for _, t := range op.terms {
			in := n*len(pl.ins) + t.in
			pr.MulCoeffsMontgomeryThenAdd(c0s[in], ws[t.w], wk.acc0)
			pr.MulCoeffsMontgomeryThenAdd(c1s[in], ws[t.w], wk.acc1)
		}
		wk.pk.leaf(pr, len(pl.lv.q), wk.acc0, wk.acc1, k, dst)
	})
	// Re-randomise, mask and flood the (packed) answer at Q″.
	kp := len(p.ppQ)
	pk0, pk1 := lring.Poly{Coeffs: s.pk0.Coeffs[:kp]}, lring.Poly{Coeffs: s.pk1.Coeffs[:kp]}
	c0, c1 := s.hide(wk.pk, wk.prg, pk0, pk1, c, pl.floodBits, wk.r)
	defer func() { wk.pk.free = append(wk.pk.free, c) }() // c0, c1 are c's memory
	for a, lf := range g {
		for _, t := range pl.outs[lf.op].targets {
			y[lf.n*pl.yLen+int(t.idx)] = -wk.r[pl.packedCoef(t.coef, a)] & p.mask
		}
	}
	// Switch from Q″ to Q' (c1 rounded at random) and append c1 in full
	// and c0 at the targets.
	p.pp.DivRoundByLastModulus(c0, c0) // Q″ = Q'·q_x
	dither(wk.prg, p.ppQ, c1)
	p.pp.DivRoundByLastModulus(c1, c1)
	var msg []byte
	for i := range p.ReplyPrimes {
		msg = rq.PackSeg(msg, c1.Coeffs[i], p.width(i))
	}
	for i := range p.ReplyPrimes {
		if p.C0Bits > 0 && i > 0 {
			break
		}
		tw := wk.tw[:0]
		for a, lf := range g {
			for _, t := range pl.outs[lf.op].targets {
				v := c0.Coeffs[i][pl.packedCoef(t.coef, a)]
				if p.C0Bits > 0 {
					v = p.switchC0(v)
				}
				tw = append(tw, v)
			}
		}
		if p.C0Bits > 0 {
			msg = rq.PackSeg(msg, tw, p.C0Bits)
		} else {
			msg = rq.PackSeg(msg, tw, p.width(i))
		}
	}
	return msg
}

// dither adds to every coefficient of c (coefficient domain, residues
// mod qs) a fresh uniform integer in [−(q−1)/2, (q−1)/2], q the last
// prime of qs, so that the rounded division by q that follows is
// ⌊(c + U)/q⌋ for U uniform in [0, q): c/q rounded up with probability
// its fractional part, an error of mean 0 independent of everything
// else (switchHP). It is fresh server randomness applied to a flooded
// ciphertext: post-processing, no leak.
func dither(prg *ring.PRG, qs []uint64, c lring.Poly) {
	q := qs[len(qs)-1]
	m := ^uint64(0) >> bits.LeadingZeros64(q)
	half := int64((q - 1) / 2)
	for j := range N {
		u := prg.Uint64() & m
		for u >= q {
			u = prg.Uint64() & m
		}
		v := int64(u) - half // |v| < 2^59: q < 2^60
		for i, qi := range qs {
			c.Coeffs[i][j] = rq.AddMod(c.Coeffs[i][j], signedMod(v, qi), qi)
		}
	}
}

// hide re-randomises the packed answer c with the public key's residues
// pk0, pk1 over Q″ (NTT domain), divides its c0 by P (packer.finish),
// adds ⌊Q″·r/2^ℓ⌉ for a fresh uniform r (returned in r) to every
// coefficient and floods c0 with a uniform integer in [−2^(fb−1),
// 2^(fb−1)); it returns (c0, c1) over Q″ in the coefficient domain.
// pk0·u goes into c0 before the division, multiplied by P: a multiple of
// P, so the division adds exactly pk0·u.
func (s *Server) hide(pk *packer, prg *ring.PRG, pk0, pk1 lring.Poly, c *ct, fb int, r []uint64) (c0, c1 lring.Poly) {
	p := s.P
	rg, qs := p.pp, p.ppQ
	u, e := pk.u1, pk.t1 // free between packs
	rq.SmallPoly(prg, qs, u, true)
	rg.NTT(u, u)
	rg.MulCoeffsBarrett(pk0, u, e)
	for i := range qs {
		rg.SubRings[i].MulScalarMontgomeryThenAdd(e.Coeffs[i], pk.c.pMont[i], c.c0.Coeffs[i])
	}
	rg.MulCoeffsBarrett(pk1, u, e)
	rg.INTT(e, e)
	c1 = c.c1
	rg.Add(c1, e, c1)
	c0 = pk.finish(c.c0)
	rq.SmallPoly(prg, qs, e, false)
	rg.Add(c0, e, c0)
	rq.SmallPoly(prg, qs, e, false)
	rg.Add(c1, e, c1)
	prg.Uint64s(r)
	for j := range r {
		r[j] &= p.mask
	}
	p.encodeScaled(p.ppB, r, e)
	rg.Add(c0, e, c0)
	rq.AddFlood(prg, qs, c0, fb)
	return c0, c1
}
