package optim

import "fmt"

// Settings choose an optimiser and its per-step cosine schedule, as
// `autorep train` takes them.
type Settings struct {
	// Name is "sgd", "adam" or "adamw" (Adam with decoupled weight decay).
	Name string
	// LR is the peak learning rate, MinLR the cosine schedule's last.
	LR, MinLR float64
	// Momentum and Nesterov apply to SGD (Nesterov only with momentum).
	Momentum float64
	Nesterov bool
	// WeightDecay applies to every parameter, or with NoBNDecay only to
	// those of two or more dimensions (SplitDecay).
	WeightDecay float64
	NoBNDecay   bool
	// WarmupEpochs of linear warm-up (a fraction is allowed; capped at the
	// whole run) within Epochs.
	WarmupEpochs float64
	Epochs       int
}

// Build makes the optimiser over params and its cosine schedule with
// stepsPerEpoch steps per epoch.
func Build(params []Param, s Settings, stepsPerEpoch int) (Optimizer, Schedule, error) {
	var groups []Group
	if s.NoBNDecay {
		groups = SplitDecay(params, s.WeightDecay)
	} else {
		groups = []Group{{Params: params, WeightDecay: s.WeightDecay}}
	}
	var opt Optimizer
	var err error
	switch s.Name {
	case "sgd":
		opt, err = NewSGD(groups, SGDConfig{LR: s.LR, Momentum: s.Momentum, Nesterov: s.Nesterov && s.Momentum > 0})
	case "adam":
		opt, err = NewAdam(groups, AdamConfig{LR: s.LR})
	case "adamw":
		opt, err = NewAdam(groups, AdamConfig{LR: s.LR, Decoupled: true})
	default:
		return nil, nil, fmt.Errorf("unknown optimiser %q (want sgd, adam or adamw)", s.Name)
	}
	if err != nil {
		return nil, nil, err
	}
	total := s.Epochs * stepsPerEpoch
	warm := min(int(s.WarmupEpochs*float64(stepsPerEpoch)), total)
	sched, err := NewCosine(s.LR, s.MinLR, warm, total)
	if err != nil {
		return nil, nil, err
	}
	return opt, sched, nil
}
