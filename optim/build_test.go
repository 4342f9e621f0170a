package optim

import (
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

func TestBuild(t *testing.T) {
	w := Param{Name: "conv.weight", Var: autograd.Param(tensor.Full(1, 2, 2))}
	b := Param{Name: "conv.bias", Var: autograd.Param(tensor.Full(1, 2))}
	params := []Param{w, b}
	base := Settings{Name: "sgd", LR: 0.1, MinLR: 0.001, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, WarmupEpochs: 1, Epochs: 3}

	opt, sched, err := Build(params, base, 10)
	if err != nil {
		t.Fatal(err)
	}
	sgd, ok := opt.(*SGD)
	if !ok || sgd.cfg != (SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true}) {
		t.Fatalf("optimiser %T %+v", opt, opt)
	}
	if g := sgd.Groups(); len(g) != 1 || len(g[0].Params) != 2 || g[0].WeightDecay != 5e-4 {
		t.Errorf("groups %+v", g)
	}
	if c, ok := sched.(Cosine); !ok || c != (Cosine{Base: 0.1, Min: 0.001, Warmup: 10, Total: 30}) {
		t.Errorf("schedule %+v", sched)
	}

	// No momentum: Nesterov is dropped rather than refused.
	s := base
	s.Momentum, s.NoBNDecay, s.WarmupEpochs = 0, true, 0.25
	opt, sched, err = Build(params, s, 10)
	if err != nil {
		t.Fatal(err)
	}
	if sgd := opt.(*SGD); sgd.cfg.Nesterov || len(sgd.Groups()) != 2 || sgd.Groups()[1].WeightDecay != 0 {
		t.Errorf("no momentum, no BN decay: %+v groups %+v", sgd.cfg, sgd.Groups())
	}
	if c := sched.(Cosine); c.Warmup != 2 {
		t.Errorf("0.25 warm-up epochs of 10 steps: %d steps", c.Warmup)
	}
	// Warm-up longer than the run is capped at the run.
	s.WarmupEpochs = 5
	if _, sched, err = Build(params, s, 10); err != nil || sched.(Cosine).Warmup != 30 {
		t.Errorf("warm-up cap: %+v, %v", sched, err)
	}

	for _, name := range []string{"adam", "adamw"} {
		s := base
		s.Name = name
		opt, _, err := Build(params, s, 10)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := opt.(*Adam); !ok || a.cfg.LR != 0.1 || a.cfg.Decoupled != (name == "adamw") {
			t.Errorf("%s: %T %+v", name, opt, opt)
		}
	}

	for name, mod := range map[string]func(*Settings){
		"unknown":         func(s *Settings) { s.Name = "lion" },
		"no epochs":       func(s *Settings) { s.Epochs = 0 },
		"negative lr":     func(s *Settings) { s.LR = -1 },
		"negative warmup": func(s *Settings) { s.WarmupEpochs = -1 },
	} {
		s := base
		mod(&s)
		if _, _, err := Build(params, s, 10); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
