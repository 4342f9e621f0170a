package stat

import "testing"

func TestArgmax(t *testing.T) {
	for _, c := range []struct {
		in   []float32
		want int
	}{
		{nil, 0}, {[]float32{1}, 0}, {[]float32{1, 3, 2}, 1}, {[]float32{-5, -1, -1, -3}, 1}, {[]float32{2, 2}, 0},
	} {
		if got := Argmax(c.in); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.in, got, c.want)
		}
	}
	if got := Argmax([]float64{0.1, -1, 0.7}); got != 2 {
		t.Errorf("float64: %d", got)
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	for q, want := range map[float64]float64{0.5: 3, 0.9: 5, 0.2: 1, 0.21: 2, 1: 5, 0: 1} {
		if got := Percentile(v, q); got != want {
			t.Errorf("Percentile(%v) = %v, want %v", q, got, want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty percentile")
	}
	if v[0] != 5 || v[1] != 1 {
		t.Error("Percentile sorted its input")
	}
}
