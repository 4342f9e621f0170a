package mpc

import (
	"context"
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// The core's kinds.
func init() {
	corr.RegisterKind(KindWeightMask, corr.KindDesc{Name: "weight-mask", Vecs: [2]int{1, 0}, Session: true,
		Validate: func(r corr.Request) error { return corr.ValidateLinear(r.Linear) },
		Shape: func(r corr.Request) corr.Shape {
			w := r.Linear.WLen()
			return corr.Shape{Vecs: [2][]corr.VecShape{{{Len: w, Seeded: true}}, nil}, Elems: int64(w)}
		},
		Generate: func(req corr.Request, g corr.Gen, m0, _ *corr.Material) error {
			m0.Vecs = []corr.Vec{corr.SeededVec(g.SessionSeed(KindWeightMask, req.Label), req.Linear.WLen())}
			return nil
		}})
	corr.RegisterKind(KindLinear, corr.KindDesc{Name: "linear", Vecs: [2]int{1, 2},
		Validate: func(r corr.Request) error { return corr.ValidateLinear(r.Linear) },
		Shape: func(r corr.Request) corr.Shape {
			p := r.Linear.Norm()
			x, y, w := p.XLen(), p.YLen(), p.WLen()
			return corr.Shape{Vecs: [2][]corr.VecShape{{{Len: y, Seeded: true}}, {{Len: x, Seeded: true}, {Len: y, Seeded: false}}},
				Elems: int64(max(x, y, w)), MACs: int64(y) * int64(p.C/p.Groups) * int64(p.R) * int64(p.S)}
		},
		Generate: func(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
			p := req.Linear
			b := ring.ExpandSeed(g.SessionSeed(KindWeightMask, req.Label), p.WLen()).Data
			r := corr.SeededVec(g.PRG.Seed(), p.XLen())
			br, err := convContext(g.Context(), p, b, r.Data)
			if err != nil {
				return err
			}
			c0, c1 := g.Share(br)
			m0.Vecs = []corr.Vec{c0}
			m1.Vecs = []corr.Vec{r, c1}
			return nil
		}})
	corr.RegisterKind(KindCoefMask, corr.KindDesc{Name: "coef-mask", Vecs: [2]int{1, 0}, Session: true,
		Validate: func(r corr.Request) error {
			if r.Act.C <= 0 || r.Act.C > corr.MaxDim {
				return fmt.Errorf("mpc: coefficient mask for %d channels", r.Act.C)
			}
			return nil
		},
		Shape: func(r corr.Request) corr.Shape {
			w := coefMaskWords * r.Act.C
			return corr.Shape{Vecs: [2][]corr.VecShape{{{Len: w, Seeded: true}}, nil}, Elems: int64(w)}
		},
		CheckVecs: func(m *corr.Material) error {
			if m.Party == Server && len(m.Vecs[0].Data)%coefMaskWords != 0 {
				return fmt.Errorf("mpc: coefficient mask of length %d, not %d per channel", len(m.Vecs[0].Data), coefMaskWords)
			}
			return nil
		},
		Generate: func(req corr.Request, g corr.Gen, m0, _ *corr.Material) error {
			m0.Vecs = []corr.Vec{corr.SeededVec(g.SessionSeed(KindCoefMask, req.Label), coefMaskWords*req.Act.C)}
			return nil
		}})
	corr.RegisterKind(KindPoly, corr.KindDesc{Name: "poly", Vecs: [2]int{1 + polyVecs, 1 + polyVecs},
		Validate: func(r corr.Request) error { return r.Act.Validate() },
		Shape: func(r corr.Request) corr.Shape {
			a := r.Act
			pos := a.N * (a.C*a.HW - a.ReLU.Count())
			s := corr.Shape{Elems: int64(a.N) * int64(a.C) * int64(a.HW)}
			s.Mask(pos)
			for _, w := range polyWords {
				s.Shared(w * pos)
			}
			return s
		},
		CheckVecs: func(m *corr.Material) error {
			for i := 1; i < len(m.Vecs); i++ {
				if len(m.Vecs[i].Data) != polyWords[i-1]*len(m.Vecs[0].Data) {
					return fmt.Errorf("mpc: poly material vectors of lengths %d and %d", len(m.Vecs[0].Data), len(m.Vecs[i].Data))
				}
			}
			return nil
		},
		Generate: func(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
			return genPoly(g.Context(), req, g.PRG, g.SessionSeed(KindCoefMask, req.Label), m0, m1)
		}})
	corr.RegisterKind(KindTruncMSB, corr.KindDesc{Name: "trunc-msb", Vecs: [2]int{3, 3}, MaxShift: maxMSBShift, EqualLens: true,
		Validate: func(r corr.Request) error {
			if r.Ell != 0 {
				return fmt.Errorf("mpc: %v request with bit width %d (inputs are |x| < 2^61)", r.Kind, r.Ell)
			}
			if r.Shift == 0 || r.Shift > maxMSBShift {
				return fmt.Errorf("mpc: MSB truncation shift %d outside 1..%d", r.Shift, maxMSBShift)
			}
			return r.CheckN()
		},
		Shape: func(r corr.Request) corr.Shape {
			s := corr.Shape{Param: uint64(r.Shift), Elems: int64(r.N)}
			s.Mask(r.N)
			s.Shared(r.N)
			s.Shared(r.N)
			return s
		},
		Generate: func(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
			r, r0, r1 := g.Mask(req.N)
			hi, msb := make([]uint64, req.N), make([]uint64, req.N)
			for i, ri := range r {
				hi[i], msb[i] = ri>>req.Shift, ri>>63
			}
			h0, h1 := g.Share(hi)
			q0, q1 := g.Share(msb)
			m0.Vecs, m1.Vecs = []corr.Vec{r0, h0, q0}, []corr.Vec{r1, h1, q1}
			m0.Param, m1.Param = uint64(req.Shift), uint64(req.Shift)
			return nil
		}})
	corr.RegisterKind(KindTriple, corr.KindDesc{Name: "triple", Vecs: [2]int{3, 3}, EqualLens: true,
		Validate: corr.Request.CheckN,
		Shape: func(r corr.Request) corr.Shape {
			s := corr.Shape{Elems: int64(r.N)}
			s.Mask(r.N)
			s.Mask(r.N)
			s.Shared(r.N)
			return s
		},
		Generate: func(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
			a, a0, a1 := g.Mask(req.N)
			b, b0, b1 := g.Mask(req.N)
			c := make([]uint64, req.N)
			ring.MulVec(c, a, b)
			c0, c1 := g.Share(c)
			m0.Vecs, m1.Vecs = []corr.Vec{a0, b0, c0}, []corr.Vec{a1, b1, c1}
			return nil
		}})
	corr.RegisterKind(KindSquare, corr.KindDesc{Name: "square", Vecs: [2]int{2, 2}, EqualLens: true,
		Validate: corr.Request.CheckN,
		Shape: func(r corr.Request) corr.Shape {
			s := corr.Shape{Elems: int64(r.N)}
			s.Mask(r.N)
			s.Shared(r.N)
			return s
		},
		Generate: func(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
			a, a0, a1 := g.Mask(req.N)
			sq := make([]uint64, req.N)
			ring.MulVec(sq, a, a)
			s0, s1 := g.Share(sq)
			m0.Vecs, m1.Vecs = []corr.Vec{a0, s0}, []corr.Vec{a1, s1}
			return nil
		}})
}

// ctxPositions is how many polynomial positions genPoly generates between
// two looks at its context.
const ctxPositions = 1 << 14

// genPoly fills the KindPoly material (see KindPoly and Session.Act) with
// the coefficient masks of seed coef.
func genPoly(ctx context.Context, req corr.Request, prg *ring.PRG, coef ring.Seed, m0, m1 *corr.Material) error {
	_, _, ch := req.Act.Split()
	n := len(ch)
	b := ring.ExpandSeed(coef, coefMaskWords*req.Act.C).Data
	r0, r1 := corr.SeededVec(prg.Seed(), n), corr.SeededVec(prg.Seed(), n)
	r := make([]uint64, n)
	ring.AddVec(r, r0.Data, r1.Data)
	vals := make([][]uint64, polyVecs)
	for j := range vals {
		vals[j] = make([]uint64, polyWords[j]*n)
	}
	for i, c := range ch {
		if i%ctxPositions == 0 {
			if err := context.Cause(ctx); err != nil {
				return err
			}
		}
		b1, b2 := at3(b, 2*c), at3(b, 2*c+1)
		ri := bigU(r[i])
		mi := bigU(r[i] >> 63)
		sq := ri.mul(ri)
		mr := mi.mul(ri)
		b2m := b2.mul(mi)
		put3(vals[0], i, ri)
		put2(vals[1], i, mi)
		put3(vals[2], i, sq)
		put2(vals[3], i, mr)
		put3(vals[4], i, b2.mul(ri))
		put2(vals[5], i, b2m)
		put3(vals[6], i, b2.mul(sq).sub(b1.mul(ri)))
		put2(vals[7], i, b2m.shl(64).sub(b2.mul(mr).shl(1)).add(b1.mul(mi)))
	}
	m0.Vecs, m1.Vecs = []corr.Vec{r0}, []corr.Vec{r1}
	for j, v := range vals {
		v0 := corr.SeededVec(prg.Seed(), len(v))
		v1 := make([]uint64, len(v))
		for i := 0; i < n; i++ {
			if polyWords[j] == 3 {
				put3(v1, i, at3(v, i).sub(at3(v0.Data, i)))
			} else {
				put2(v1, i, at2(v, i).sub(at2(v0.Data, i)))
			}
		}
		m0.Vecs = append(m0.Vecs, v0)
		m1.Vecs = append(m1.Vecs, corr.Vec{Data: v1})
	}
	return nil
}
