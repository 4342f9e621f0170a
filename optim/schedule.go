package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate for a (0-based) optimisation step.
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR implements Schedule.
func (c Constant) LR(int) float64 { return float64(c) }

// Cosine is cosine annealing from Base to Min over Total steps, after
// Warmup steps of linear warm-up from Base/Warmup to Base:
//
//	step < Warmup: Base·(step+1)/Warmup
//	otherwise:     Min + (Base−Min)·(1 + cos(π·(step−Warmup)/(Total−Warmup)))/2
//
// Steps at or past Total give Min.
type Cosine struct {
	Base, Min     float64
	Warmup, Total int
}

// NewCosine validates and returns a cosine schedule.
func NewCosine(base, min float64, warmup, total int) (Cosine, error) {
	if total <= 0 || warmup < 0 || warmup > total || base < 0 || min < 0 {
		return Cosine{}, fmt.Errorf("optim: invalid cosine schedule base=%g min=%g warmup=%d total=%d", base, min, warmup, total)
	}
	return Cosine{Base: base, Min: min, Warmup: warmup, Total: total}, nil
}

// LR implements Schedule.
func (c Cosine) LR(step int) float64 {
	if step < 0 {
		step = 0
	}
	if step < c.Warmup {
		return c.Base * float64(step+1) / float64(c.Warmup)
	}
	span := c.Total - c.Warmup
	if span <= 0 || step >= c.Total {
		return c.Min
	}
	frac := float64(step-c.Warmup) / float64(span)
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*frac))/2
}
