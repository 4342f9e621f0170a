package mpc

import (
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
)

// Layer is the public spec of one interactive layer of a secure network,
// compiled once (shapes, masks, tournament schedule, precision). It reports
// the correlated randomness its protocol asks for, in the order the
// protocol asks for it, so that a caller can fetch it ahead of time without
// running the protocol.
type Layer interface {
	// SetupNeeds lists what party p asks for in the layer's
	// once-per-session setup.
	SetupNeeds(p Party) []corr.Request
	// Needs lists what one inference of n images asks for (the same for
	// both parties).
	Needs(n int) []corr.Request
}

// LinearLayer is a linear layer (convolution or dense) with server-held
// weights; Spec.N is ignored (the batch comes with each inference).
type LinearLayer struct {
	Label string
	Spec  corr.LinearSpec
}

// SetupNeeds is the server's weight mask (SetupLinear).
func (l *LinearLayer) SetupNeeds(p Party) []corr.Request {
	if p != Server {
		return nil
	}
	return []corr.Request{weightMaskRequest(l.Label, linearBatch(l.Spec, 1))}
}

// Needs is the linear material of n images (Linear).
func (l *LinearLayer) Needs(n int) []corr.Request {
	return []corr.Request{linearRequest(l.Label, linearBatch(l.Spec, n))}
}

// linearBatch is spec for n images.
func linearBatch(spec corr.LinearSpec, n int) corr.LinearSpec {
	spec.N = n
	return spec
}

func weightMaskRequest(label string, spec corr.LinearSpec) corr.Request {
	return corr.Request{Kind: KindWeightMask, Label: label, Linear: spec}
}

func linearRequest(label string, spec corr.LinearSpec) corr.Request {
	return corr.Request{Kind: KindLinear, Label: label, Linear: spec}
}

// ActLayer is a mixed activation layer (Act): its ReLU/polynomial split is
// computed once, when the layer is made (NewActLayer).
type ActLayer struct {
	// Label names the layer's ReLU material (Label + "/relu"); PolyLabel
	// is the label of its PolyKey (polynomial material).
	Label, PolyLabel string
	// Spec is the layer's shape and mask for one image (not to be changed
	// after NewActLayer, which computed its split).
	Spec corr.ActSpec
	// Frac is the session's precision (the fused truncation's shift) and
	// Ell the gate width of the ReLU positions (0: 64).
	Frac uint
	Ell  int
	// gates name the material of the ReLU positions (Gates.ReLUTruncNeeds).
	gates Gates
}

// NewActLayer returns the activation layer over C channels of HW
// positions with ReLU mask relu (nil = all polynomial), whose ReLU
// positions are gates g (the family that names their material).
func NewActLayer(label, polyLabel string, C, HW int, relu corr.ReLUMask, frac uint, ell int, g Gates) (*ActLayer, error) {
	if g == nil {
		return nil, fmt.Errorf("mpc: act %q: no comparison gates", label)
	}
	spec := corr.ActSpec{N: 1, C: C, HW: HW, ReLU: relu}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("mpc: act %q: %w", label, err)
	}
	spec = spec.Partitioned() // once, for every batch and request
	return &ActLayer{Label: label, PolyLabel: polyLabel, Spec: spec, Frac: frac, Ell: ell, gates: g}, nil
}

// Batch is the layer's spec for n images (sharing the computed split).
func (l *ActLayer) Batch(n int) corr.ActSpec {
	s := l.Spec
	s.N = n
	return s
}

// SetupNeeds is the server's coefficient mask (SetupPolyCoefs) if the layer
// has polynomial positions.
func (l *ActLayer) SetupNeeds(p Party) []corr.Request {
	if _, poly := l.Spec.Counts(); p != Server || poly == 0 {
		return nil
	}
	return []corr.Request{coefMaskRequest(l.PolyLabel, l.Spec.C)}
}

// Needs is the fused ReLU-truncation material of the ReLU positions (as
// the gates name it) and the polynomial material of the others (Act).
func (l *ActLayer) Needs(n int) []corr.Request {
	relu, poly := l.Spec.Counts()
	var reqs []corr.Request
	if relu > 0 {
		reqs = append(reqs, l.gates.ReLUTruncNeeds(l.Label+"/relu", n*relu, l.Frac, l.Ell)...)
	}
	if poly > 0 {
		reqs = append(reqs, polyRequest(l.PolyLabel, l.Batch(n)))
	}
	return reqs
}

func coefMaskRequest(label string, C int) corr.Request {
	return corr.Request{Kind: KindCoefMask, Label: label, Act: corr.ActSpec{C: C}}
}

func polyRequest(label string, spec corr.ActSpec) corr.Request {
	return corr.Request{Kind: KindPoly, Label: label, Act: spec}
}

// MaxPoolLayer is a max-pooling layer (MaxPool): its tournament schedule
// is computed once (NewMaxPoolLayer).
type MaxPoolLayer struct {
	Label string
	// Pool is the geometry of one image (N = 1).
	Pool PoolSpec
	// Ell is the gate width of the comparisons (0: 64).
	Ell    int
	rounds []int // comparisons per tournament round for one image
	gates  Gates // name the comparisons' material (Gates.ReLUNeeds)
}

// NewMaxPoolLayer returns the max-pooling layer of geometry p (p.N is
// ignored) whose comparisons are gates g.
func NewMaxPoolLayer(label string, p PoolSpec, ell int, g Gates) (*MaxPoolLayer, error) {
	if g == nil {
		return nil, fmt.Errorf("mpc: maxpool %q: no comparison gates", label)
	}
	p.N = 1
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("mpc: maxpool %q: %w", label, err)
	}
	return &MaxPoolLayer{Label: label, Pool: p, Ell: ell, rounds: MaxPoolRounds(p), gates: g}, nil
}

// Batch is the layer's geometry for n images.
func (l *MaxPoolLayer) Batch(n int) PoolSpec {
	p := l.Pool
	p.N = n
	return p
}

// Comparisons is the number of ReLU gates of one image.
func (l *MaxPoolLayer) Comparisons() int {
	t := 0
	for _, c := range l.rounds {
		t += c
	}
	return t
}

// SetupNeeds is empty: max pooling has no setup.
func (l *MaxPoolLayer) SetupNeeds(Party) []corr.Request { return nil }

// Needs is one ReLU gate per tournament round (every window of every
// image plays its round at once), as the gates name it.
func (l *MaxPoolLayer) Needs(n int) []corr.Request {
	var reqs []corr.Request
	for _, c := range l.rounds {
		reqs = append(reqs, l.gates.ReLUNeeds(l.Label, n*c, l.Ell)...)
	}
	return reqs
}

func truncMSBRequest(label string, n int, shift uint) corr.Request {
	return corr.Request{Kind: KindTruncMSB, Label: label, N: n, Shift: shift}
}

// Needs concatenates the per-inference needs of layers for n images in
// order (nil entries, local layers, need nothing).
func Needs(layers []Layer, n int) []corr.Request {
	var reqs []corr.Request
	for _, l := range layers {
		if l != nil {
			reqs = append(reqs, l.Needs(n)...)
		}
	}
	return reqs
}

// SetupNeeds concatenates the setup needs of party p for layers in order
// (nil entries need nothing).
func SetupNeeds(layers []Layer, p Party) []corr.Request {
	var reqs []corr.Request
	for _, l := range layers {
		if l != nil {
			reqs = append(reqs, l.SetupNeeds(p)...)
		}
	}
	return reqs
}
