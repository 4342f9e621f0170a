package corr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/autorep/autorep/ring"
)

// LinearSpec is the public geometry of a linear layer: a 2-D convolution of
// x [N,C,H,W] with weights [K, C/Groups, R, S] giving y [N, K, OH, OW]
// (ring.ConvParams; zero strides and groups mean 1). A dense layer is the
// 1×1 case over H = W = 1 (see DenseSpec).
type LinearSpec = ring.ConvParams

// DenseSpec is the spec of y [n, out] = x [n, in] · Wᵀ with W [out, in].
func DenseSpec(n, in, out int) LinearSpec {
	return LinearSpec{N: n, C: in, H: 1, W: 1, K: out, R: 1, S: 1, StrideH: 1, StrideW: 1, Groups: 1}
}

// MaxDim bounds every dimension so that products cannot overflow.
const MaxDim = 1 << 24

// BoundedProduct returns the product of positive dims if it is at most
// MaxMaterialElems (without overflowing on the way).
func BoundedProduct(dims ...int) (int, bool) {
	n := 1
	for _, d := range dims {
		if d <= 0 || d > MaxMaterialElems || n > MaxMaterialElems/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// ValidateLinear checks a linear spec and bounds its sizes.
func ValidateLinear(p LinearSpec) error {
	for _, d := range []int{p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.StrideH, p.StrideW, p.PadH, p.PadW, p.Groups} {
		if d < 0 || d > MaxDim {
			return fmt.Errorf("mpc: linear spec %+v: dimensions must be in 0..%d", p, MaxDim)
		}
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("mpc: %w", err)
	}
	for _, n := range []int{p.XLen(), p.YLen(), p.WLen()} {
		if n <= 0 || n > MaxMaterialElems {
			return fmt.Errorf("mpc: linear spec %+v: %d elements, limit %d", p, n, MaxMaterialElems)
		}
	}
	return nil
}

// ReLUMask is the ReLU mask of an activation layer: a bitset over its
// C·H·W positions (LSB first, 1 = ReLU, 0 = polynomial; padding bits 0).
// It is the one form the mask takes from the compiled plan (pi.Step.Mask)
// to the dealer request's encoding.
type ReLUMask []byte

// MaskOf returns the mask of relu (true = ReLU).
func MaskOf(relu []bool) ReLUMask {
	m := make(ReLUMask, (len(relu)+7)/8)
	for i, v := range relu {
		if v {
			m[i/8] |= 1 << (i % 8)
		}
	}
	return m
}

// At reports whether position i is a ReLU.
func (m ReLUMask) At(i int) bool { return m[i/8]>>(i%8)&1 == 1 }

// Count returns the number of ReLU positions.
func (m ReLUMask) Count() int {
	n := 0
	for _, b := range m {
		n += bits.OnesCount8(b)
	}
	return n
}

// check verifies that m is a mask of n positions (length and padding).
func (m ReLUMask) check(n int) error {
	if len(m) != (n+7)/8 {
		return fmt.Errorf("mask of %d bytes for %d positions", len(m), n)
	}
	if n%8 != 0 && m[len(m)-1]>>(n%8) != 0 {
		return errors.New("mask padding bits set")
	}
	return nil
}

// ActSpec is the public shape of an activation layer over x [N, C, H·W]:
// ReLU.At(i) (i over C·H·W, shared by the batch) says whether position i
// is a ReLU or a polynomial. A nil ReLU means all polynomial.
type ActSpec struct {
	N, C, HW int
	ReLU     ReLUMask

	// part is the split of one image's positions, computed once
	// (Partitioned, by the core's mpc.NewActLayer) and shared by the
	// specs of every batch (nil: computed from ReLU when needed).
	part *actPart
}

// Partitioned returns a with one image's split computed once, shared by
// every copy (a layer's batches); a must not change afterwards.
func (a ActSpec) Partitioned() ActSpec {
	a.part = a.partition()
	return a
}

// Unpartitioned returns a without its mask and computed split: the same
// shape, every position a polynomial.
func (a ActSpec) Unpartitioned() ActSpec {
	a.ReLU, a.part = nil, nil
	return a
}

// Counts returns the number of ReLU and polynomial positions of one image.
func (a ActSpec) Counts() (relu, poly int) {
	p := a.split1()
	return len(p.relu), len(p.poly)
}

// actPart is the split of one image's C·HW positions of an activation
// layer: the ReLU positions, the polynomial positions and their channels.
type actPart struct {
	relu, poly, polyCh []int
}

// Len is the number of elements N·C·HW.
func (a ActSpec) Len() int { return a.N * a.C * a.HW }

// Validate checks the shape and mask length.
func (a ActSpec) Validate() error {
	for _, d := range []int{a.N, a.C, a.HW} {
		if d <= 0 || d > MaxDim {
			return fmt.Errorf("mpc: activation spec %dx%dx%d: dimensions must be in 1..%d", a.N, a.C, a.HW, MaxDim)
		}
	}
	if _, ok := BoundedProduct(a.N, a.C, a.HW); !ok {
		return fmt.Errorf("mpc: activation spec %dx%dx%d: more than %d elements", a.N, a.C, a.HW, MaxMaterialElems)
	}
	if a.ReLU != nil {
		if err := a.ReLU.check(a.C * a.HW); err != nil {
			return fmt.Errorf("mpc: activation spec: %w", err)
		}
	}
	return nil
}

// partition splits one image's positions by the mask.
func (a ActSpec) partition() *actPart {
	p := &actPart{}
	for i := 0; i < a.C*a.HW; i++ {
		if a.ReLU != nil && a.ReLU.At(i) {
			p.relu = append(p.relu, i)
		} else {
			p.poly = append(p.poly, i)
			p.polyCh = append(p.polyCh, i/a.HW)
		}
	}
	return p
}

// split1 is the split of one image (the computed one if the spec has it).
func (a ActSpec) split1() *actPart {
	if a.part != nil {
		return a.part
	}
	return a.partition()
}

// Split returns the flat indices (over N·C·HW) of the ReLU positions and of
// the polynomial positions, and the channel of each polynomial position:
// one image's split repeated over the batch.
func (a ActSpec) Split() (relu, poly []int, polyCh []int) {
	p, per := a.split1(), a.C*a.HW
	relu = make([]int, 0, a.N*len(p.relu))
	poly = make([]int, 0, a.N*len(p.poly))
	polyCh = make([]int, 0, a.N*len(p.poly))
	for n := 0; n < a.N; n++ {
		for _, i := range p.relu {
			relu = append(relu, n*per+i)
		}
		for _, i := range p.poly {
			poly = append(poly, n*per+i)
		}
		polyCh = append(polyCh, p.polyCh...)
	}
	return relu, poly, polyCh
}

// Request asks for one piece of correlated randomness. Which fields matter
// depends on Kind:
//
//	KindWeightMask, KindLinear: Linear
//	KindCoefMask:               Act.C (channels)
//	KindPoly:                   Act (material for its polynomial positions)
//	KindTruncMSB:               N, Shift (Ell must be 0)
//	KindTriple, KindSquare:     N
//	a family's gate kinds:      N, Shift, Ell (fssgates.KindReLU, ...)
//
// Label names the layer (material of the same label and kind is matched
// between the parties in request order). Session-level kinds
// (KindWeightMask, KindCoefMask) return the same mask for a label however
// often they are requested.
type Request struct {
	Kind  MaterialKind
	Label string
	N     int
	Shift uint
	// Ell is the bit width of the (signed) input of a family's gate kinds
	// (the FSS gates'): inputs must lie in [−2^(Ell−1), 2^(Ell−1)). 0
	// means 64. Smaller widths give smaller FSS keys.
	Ell    int
	Linear LinearSpec
	Act    ActSpec
}

// Validate checks that the fields needed by the kind are consistent.
func (r Request) Validate() error {
	if len(r.Label) > maxLabel {
		return fmt.Errorf("mpc: request label of %d bytes, limit %d", len(r.Label), maxLabel)
	}
	d, err := kindDesc(r.Kind)
	if err != nil {
		return err
	}
	return d.Validate(r)
}

// InputBits is the gate input width: Ell, or 64 if Ell is 0.
func (r Request) InputBits() int {
	if r.Ell == 0 {
		return 64
	}
	return r.Ell
}

// Same reports whether two requests ask for the same material: the one
// "same request" test (prefetch queues, pairing of the parties' requests).
func (r Request) Same(o Request) bool {
	return r.Kind == o.Kind && r.Label == o.Label && r.N == o.N && r.Shift == o.Shift && r.Ell == o.Ell &&
		r.Linear == o.Linear && r.Act.N == o.Act.N && r.Act.C == o.Act.C && r.Act.HW == o.Act.HW &&
		(r.Act.ReLU == nil) == (o.Act.ReLU == nil) && bytes.Equal(r.Act.ReLU, o.Act.ReLU)
}

const (
	requestMagic = "ARQ1"
	maxLabel     = 1 << 12
)

// MarshalBinary encodes the request: magic "ARQ1", kind byte, uvarint label
// length and label, uvarints N, Shift, Ell, the 12 Linear fields, Act.N, Act.C,
// Act.HW, then a flag byte (1 if Act.ReLU is set) followed by the mask as a
// bitset of ⌈C·HW/8⌉ bytes (LSB first).
func (r Request) MarshalBinary() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b := append([]byte(requestMagic), byte(r.Kind))
	b = binary.AppendUvarint(b, uint64(len(r.Label)))
	b = append(b, r.Label...)
	l := r.Linear
	for _, v := range []int{r.N, int(r.Shift), r.Ell, l.N, l.C, l.H, l.W, l.K, l.R, l.S, l.StrideH, l.StrideW, l.PadH, l.PadW, l.Groups, r.Act.N, r.Act.C, r.Act.HW} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	if r.Act.ReLU == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	return append(b, r.Act.ReLU...), nil
}

// UnmarshalRequest decodes MarshalBinary's format strictly and validates
// the result.
func UnmarshalRequest(b []byte) (Request, error) {
	var r Request
	d := decoder{b: b}
	if string(d.take(len(requestMagic))) != requestMagic {
		return r, errors.New("mpc: request: bad magic")
	}
	k := d.take(1)
	if d.err != nil {
		return r, fmt.Errorf("mpc: request: %w", d.err)
	}
	r.Kind = MaterialKind(k[0])
	ll := d.uvarint()
	if d.err == nil && ll > maxLabel {
		return r, fmt.Errorf("mpc: request: label of %d bytes", ll)
	}
	r.Label = string(d.take(int(ll)))
	var v [18]int
	for i := range v {
		x := d.uvarint()
		if x > MaxDim {
			return r, fmt.Errorf("mpc: request: field %d = %d too large", i, x)
		}
		v[i] = int(x)
	}
	r.N, r.Shift, r.Ell = v[0], uint(v[1]), v[2]
	r.Linear = LinearSpec{N: v[3], C: v[4], H: v[5], W: v[6], K: v[7], R: v[8], S: v[9],
		StrideH: v[10], StrideW: v[11], PadH: v[12], PadW: v[13], Groups: v[14]}
	r.Act = ActSpec{N: v[15], C: v[16], HW: v[17]}
	flag := d.take(1)
	if d.err != nil {
		return r, fmt.Errorf("mpc: request: %w", d.err)
	}
	switch flag[0] {
	case 0:
	case 1:
		n := r.Act.C * r.Act.HW
		if n <= 0 || n > MaxMaterialElems {
			return r, fmt.Errorf("mpc: request: mask of %d entries", n)
		}
		m := ReLUMask(d.take((n + 7) / 8))
		if d.err != nil {
			return r, fmt.Errorf("mpc: request: %w", d.err)
		}
		if err := m.check(n); err != nil {
			return r, fmt.Errorf("mpc: request: %w", err)
		}
		r.Act.ReLU = slices.Clone(m)
	default:
		return r, fmt.Errorf("mpc: request: mask flag %d", flag[0])
	}
	if d.remaining() != 0 {
		return r, fmt.Errorf("mpc: request: %d trailing bytes", d.remaining())
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}
