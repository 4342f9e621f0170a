package main

import "testing"

// TestTopTwo checks the best label, the runner-up and their margin,
// wherever the two stand in the logits (first, last, adjacent, equal).
func TestTopTwo(t *testing.T) {
	for _, c := range []struct {
		logits        []float32
		first, second int
		margin        float64
	}{
		{[]float32{3, 1, 2}, 0, 2, 1},
		{[]float32{1, 2, 3}, 2, 1, 1},
		{[]float32{-1, 5, 4.5, -7}, 1, 2, 0.5},
		{[]float32{0.25, 0.25, -1}, 0, 1, 0},
		{[]float32{-3, -2}, 1, 0, 1},
	} {
		got := topTwo(c.logits)
		if got.First != c.first || got.Second != c.second || got.Margin != c.margin {
			t.Errorf("topTwo(%v) = %d, %d, %g; want %d, %d, %g", c.logits, got.First, got.Second, got.Margin, c.first, c.second, c.margin)
		}
	}
}
