package tensor

import (
	"strings"
	"testing"
)

// naiveMulAdds counts the multiply-adds of a direct convolution loop over
// every output position and every (padded) tap, independently of the
// closed forms in ConvParams.
func naiveMulAdds(p ConvParams) (count, oh, ow int) {
	p = p.Norm()
	for y := 0; y+p.R <= p.H+2*p.PadH; y += p.StrideH {
		oh++
	}
	for x := 0; x+p.S <= p.W+2*p.PadW; x += p.StrideW {
		ow++
	}
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			for i := 0; i < oh*ow; i++ {
				for c := 0; c < p.C/p.Groups; c++ {
					count += p.R * p.S
				}
			}
		}
	}
	return count, oh, ow
}

func TestConvParamsSizes(t *testing.T) {
	for _, p := range []ConvParams{
		{N: 1, C: 1, H: 28, W: 28, K: 6, R: 5, S: 5, PadH: 2, PadW: 2},
		{N: 2, C: 4, H: 5, W: 7, K: 6, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Groups: 2},
		{N: 3, C: 16, H: 8, W: 8, K: 32, R: 1, S: 1, StrideH: 2, StrideW: 2},
		{N: 1, C: 8, H: 6, W: 9, K: 8, R: 3, S: 2, StrideH: 1, StrideW: 3, PadH: 0, PadW: 1, Groups: 8},
		{N: 1, C: 3, H: 3, W: 3, K: 1, R: 3, S: 3}, // kernel as large as the input: one output
	} {
		if err := p.Validate(); err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		madds, oh, ow := naiveMulAdds(p)
		if p.OutH() != oh || p.OutW() != ow {
			t.Errorf("%+v: out %dx%d, loop gives %dx%d", p, p.OutH(), p.OutW(), oh, ow)
		}
		q := p.Norm()
		if p.XLen() != p.N*p.C*p.H*p.W || p.WLen() != p.K*(p.C/q.Groups)*p.R*p.S || p.YLen() != p.N*p.K*oh*ow {
			t.Errorf("%+v: lengths x %d w %d y %d", p, p.XLen(), p.WLen(), p.YLen())
		}
		if p.MulAdds() != float64(madds) || p.FLOPs() != 2*float64(madds) {
			t.Errorf("%+v: %v multiply-adds, %v FLOPs; loop counts %d multiply-adds", p, p.MulAdds(), p.FLOPs(), madds)
		}
	}
}

func TestConvParamsNorm(t *testing.T) {
	p := ConvParams{N: 1, C: 2, H: 4, W: 4, K: 2, R: 3, S: 3}.Norm()
	if p.StrideH != 1 || p.StrideW != 1 || p.Groups != 1 {
		t.Errorf("Norm of zero strides/groups: %+v", p)
	}
	q := ConvParams{StrideH: 2, StrideW: 3, Groups: 4}.Norm()
	if q.StrideH != 2 || q.StrideW != 3 || q.Groups != 4 {
		t.Errorf("Norm changed set values: %+v", q)
	}
}

func TestConvParamsValidate(t *testing.T) {
	ok := ConvParams{N: 1, C: 4, H: 6, W: 6, K: 4, R: 3, S: 3}
	for _, c := range []struct {
		edit func(*ConvParams)
		err  string
	}{
		{func(p *ConvParams) { p.N = 0 }, "sizes must be positive"},
		{func(p *ConvParams) { p.K = -1 }, "sizes must be positive"},
		{func(p *ConvParams) { p.S = 0 }, "sizes must be positive"},
		{func(p *ConvParams) { p.StrideW = -1 }, "negative stride"},
		{func(p *ConvParams) { p.PadH = -1 }, "negative stride"},
		{func(p *ConvParams) { p.Groups = -2 }, "negative stride"},
		{func(p *ConvParams) { p.Groups = 3 }, "not divisible by groups 3"},
		{func(p *ConvParams) { p.Groups, p.K = 2, 3 }, "not divisible by groups 2"},
		{func(p *ConvParams) { p.R = 7 }, "kernel larger than padded input"},
		{func(p *ConvParams) { p.S, p.PadW = 9, 1 }, "kernel larger than padded input"},
	} {
		p := ok
		c.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: Validate = %v, want %q", p, err, c.err)
		}
	}
	for _, edit := range []func(*ConvParams){
		func(*ConvParams) {},
		func(p *ConvParams) { p.R, p.PadH = 8, 1 }, // exactly fits the padded input
		func(p *ConvParams) { p.Groups = 4 },       // depthwise
		func(p *ConvParams) { p.StrideH, p.StrideW = 5, 5 },
	} {
		p := ok
		edit(&p)
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}
