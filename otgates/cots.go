package otgates

import "fmt"

// The correlated OTs the gates extend, made ahead (OT precomputation,
// ot.Sender.Precompute): a caller that knows the gates it will run counts
// their COTs with the functions below, makes them in its offline phase
// (MakeCOTs), and the gates then send one derandomization bit per OT where
// they sent the extension's matrix (⌈128/k⌉ bits), in the same messages
// and rounds. The counts assume the bit triples come from a store
// (MakeTriples, made before MakeCOTs: their own OTs would otherwise draw
// on the COTs made ahead) and the 1-out-of-N OTs from COTs (not KK13).
// Tests check every count against what the gate takes.

// COTs counts correlated OTs by extension and direction: K[d] on the
// comparison extension (OT.Send/Recv) with party d the OT sender, Mul[d]
// on the multiplication extension (OT.MulSend/MulRecv).
type COTs struct {
	K, Mul [2]int
}

// Add returns c + o.
func (c COTs) Add(o COTs) COTs {
	for d := range 2 {
		c.K[d] += o.K[d]
		c.Mul[d] += o.Mul[d]
	}
	return c
}

// Sub returns c − o.
func (c COTs) Sub(o COTs) COTs {
	for d := range 2 {
		c.K[d] -= o.K[d]
		c.Mul[d] -= o.Mul[d]
	}
	return c
}

// Total returns the number of COTs c counts.
func (c COTs) Total() int { return c.K[0] + c.K[1] + c.Mul[0] + c.Mul[1] }

// String shows the four counts.
func (c COTs) String() string {
	return fmt.Sprintf("K 0→1 %d, 1→0 %d; mul 0→1 %d, 1→0 %d", c.K[0], c.K[1], c.Mul[0], c.Mul[1])
}

// LessThanCOTs is LessThan's count: the leaves' 1-out-of-16 OTs, four
// COTs each, party 0 the sender of the first half of the elements (all
// of them for a single digit).
func LessThanCOTs(n, bits int) COTs {
	if n <= 0 {
		return COTs{}
	}
	q := (bits + LeafBits - 1) / LeafBits
	n0 := n
	if q > 1 {
		n0 = (n + 1) / 2
	}
	return COTs{K: [2]int{n0 * q * LeafBits, (n - n0) * q * LeafBits}}
}

// MSBCOTs is MSB's count at width ℓ: one comparison of ℓ−1 bits.
func MSBCOTs(n, ell int) COTs { return LessThanCOTs(n, ell-1) }

// DReLUCOTs is DReLU's count (MSB's).
func DReLUCOTs(n, ell int) COTs { return MSBCOTs(n, ell) }

// SelectCOTs is Select's count: one correlated OT each way per element.
func SelectCOTs(n int) COTs { return COTs{K: [2]int{n, n}} }

// ReLUCOTs is ReLU's count: DReLU, then Select.
func ReLUCOTs(n, ell int) COTs { return DReLUCOTs(n, ell).Add(SelectCOTs(n)) }

// MaxCOTs is Max's count: the ReLU of the differences.
func MaxCOTs(n, ell int) COTs { return ReLUCOTs(n, ell) }

// B2ACOTs is B2A's count: one bit product, party 0 the sender.
func B2ACOTs(n int) COTs { return COTs{K: [2]int{n, 0}} }

// TruncCOTs is the count of Trunc and TruncNonNeg by s bits: the wrap's
// bit product (none for s = 0).
func TruncCOTs(n, s int) COTs {
	if s == 0 {
		return COTs{}
	}
	return B2ACOTs(n)
}

// TruncExactCOTs is the count of TruncExact and TruncExactNonNeg by s
// bits: the wrap's bit product, the carry's comparison and its B2A.
func TruncExactCOTs(n, s int) COTs {
	if s == 0 || n <= 0 {
		return COTs{}
	}
	return TruncCOTs(n, s).Add(LessThanCOTs(n, s)).Add(B2ACOTs(n))
}

// ReLUTruncCOTs is ReLUTrunc's count: DReLU, then the multiplexer with
// the wrap's terms (three OTs from party 0, one from party 1); ReLU's for
// s = 0.
func ReLUTruncCOTs(n, ell, s int) COTs {
	if s == 0 {
		return ReLUCOTs(n, ell)
	}
	return DReLUCOTs(n, ell).Add(COTs{K: [2]int{3 * n, n}})
}

// SquareCOTs is Square's count: ℓ−1 multiplication OTs from party 0.
func SquareCOTs(n, ell int) COTs {
	if ell <= 1 {
		return COTs{}
	}
	return COTs{Mul: [2]int{n * (ell - 1), 0}}
}

// MulPrivateCOTs is MulPrivate's count: ℓ multiplication OTs from party 0.
func MulPrivateCOTs(n, ell int) COTs { return COTs{Mul: [2]int{n * ell, 0}} }

// mulCoefCOTs is mulCoef's count: ab multiplication OTs from party 1.
func mulCoefCOTs(n, ab int) COTs { return COTs{Mul: [2]int{0, n * ab}} }

// Poly2COTs is Poly2's count: the square and b·x (ℓ OTs from party 0),
// a·y on a's bits, and two truncations by f.
func Poly2COTs(n, ell, f int) COTs {
	c := COTs{Mul: [2]int{n * ell, 0}}.Add(mulCoefCOTs(n, min(f+PolyCoefBits, ell)))
	return c.Add(TruncCOTs(n, f)).Add(TruncCOTs(n, f))
}

// Poly2ExactCOTs is Poly2Exact's count: Poly2's with exact truncations.
func Poly2ExactCOTs(n, ell, f int) COTs {
	c := COTs{Mul: [2]int{n * ell, 0}}.Add(mulCoefCOTs(n, min(f+PolyCoefBits, ell)))
	return c.Add(TruncExactCOTs(n, f)).Add(TruncExactCOTs(n, f))
}

// Poly1ExactCOTs is Poly1Exact's count: b·x, then one exact truncation.
func Poly1ExactCOTs(n, ell, f int) COTs {
	return mulCoefCOTs(n, min(f+PolyCoefBits, ell)).Add(TruncExactCOTs(n, f))
}

// PrimeCOTs is the count of ToPrimeTrunc and FromPrimeTrunc (and ToPrime,
// FromPrime): one bit product on the multiplication extension from
// party 0.
func PrimeCOTs(n int) COTs { return COTs{Mul: [2]int{n, 0}} }

// shared tells whether p's multiplication extension is the comparison
// one (KMul 0 or K, or Ferret).
func (p *Party) shared() bool { return p.OT.MulSend == p.OT.Send }

// canon returns c as p's session pools it: with one extension for both
// kinds of OT, the multiplication counts go to K.
func (p *Party) canon(c COTs) COTs {
	if p.shared() {
		for d := range 2 {
			c.K[d] += c.Mul[d]
			c.Mul[d] = 0
		}
	}
	return c
}

// MakeCOTs makes ahead the COTs c counts (both parties pass the same c;
// the traffic counted in transport.PhaseOffline), after dropping what is
// left of earlier ones: from then on every gate of p takes its COTs from
// them, sending derandomization bits instead of extending, and a gate
// that needs more than are left fails on both sides. COTsLeft tells what
// is left; DropCOTs frees them. Memory: 16 bytes per COT this party
// sends on, 17 per COT it receives on.
func (p *Party) MakeCOTs(c COTs) error {
	if p.OT.NSend != nil {
		return fmt.Errorf("otgates: COTs made ahead with KK13 1-out-of-N OTs (their extension is not pooled)")
	}
	for d := range 2 {
		if c.K[d] < 0 || c.Mul[d] < 0 {
			return fmt.Errorf("otgates: COTs to make ahead: %v", c)
		}
	}
	p.DropCOTs()
	c = p.canon(c)
	return p.offlineAs("COTs made ahead", func() error {
		for d := range 2 {
			for e, n := range []int{c.K[d], c.Mul[d]} {
				if n == 0 {
					continue
				}
				snd, rcv := p.OT.Send, p.OT.Recv
				if e == 1 {
					snd, rcv = p.OT.MulSend, p.OT.MulRecv
				}
				var err error
				if d == p.ID {
					err = snd.Precompute(n)
				} else {
					err = rcv.Precompute(n)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// COTsLeft returns the COTs made ahead that no gate has taken yet, in
// MakeCOTs's form (with one extension for both kinds, all under K).
func (p *Party) COTsLeft() COTs {
	var c COTs
	c.K[p.ID], c.K[1-p.ID] = p.OT.Send.Pooled(), p.OT.Recv.Pooled()
	if !p.shared() {
		c.Mul[p.ID], c.Mul[1-p.ID] = p.OT.MulSend.Pooled(), p.OT.MulRecv.Pooled()
	}
	return c
}

// COTsUsed tells whether the gates took exactly the COTs want counts
// since left was COTsLeft.
func (p *Party) COTsUsed(left, want COTs) bool {
	return left.Sub(p.COTsLeft()) == p.canon(want)
}

// pooling tells whether COTs made ahead are installed (MakeCOTs, until
// DropCOTs), used up or not.
func (p *Party) pooling() bool {
	return p.OT.Send.Pooling() || p.OT.Recv.Pooling() || p.OT.MulSend.Pooling() || p.OT.MulRecv.Pooling()
}

// DropCOTs frees the COTs made ahead that are left; the gates extend
// their own again.
func (p *Party) DropCOTs() {
	for _, s := range []interface{ DropPool() }{p.OT.Send, p.OT.Recv, p.OT.MulSend, p.OT.MulRecv} {
		s.DropPool()
	}
}
