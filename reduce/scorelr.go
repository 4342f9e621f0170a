package reduce

// scoreTravel is how far, in score units, a search must be able to move an
// AutoReP score: scores start in U(0,1) and a ReLU is dropped only once its
// score falls below −t, so the scores of the ReLUs that go travel about 1,
// and those the budget loss pushes down and the task loss pulls back about
// twice that.
const scoreTravel = 2.0

// SearchScoreLR is the learning rate of AutoReP's scores when the user does
// not set one: lr, raised so that a search of steps optimiser steps reaches
// its budget. Adam moves a score by about its learning rate per step and the
// cosine schedule averages half the initial rate, so over S steps a score
// travels about S·rate/2 (DESIGN §1.1: the search needs ≳ 1/lr steps);
// scoreTravel then needs a rate of 2·scoreTravel/S = 4/S. Long searches
// keep lr: on MNIST (468 steps of 128 per epoch) 9 or more epochs keep
// 1e-3, 3 epochs get 0.00285; ResNet-20 on CIFAR-10 (390 steps) keeps 1e-3
// from 11 epochs on.
func SearchScoreLR(lr float64, steps int) float64 {
	if steps < 1 {
		return lr
	}
	return max(lr, 2*scoreTravel/float64(steps))
}
