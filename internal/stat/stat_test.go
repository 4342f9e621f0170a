package stat

import "testing"

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(append([]float64(nil), c.in...)); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	// An outlier moves the median no further than the middle values.
	if got := Median([]float32{4, 1, 1e9, 2}); got != 3 {
		t.Errorf("float32 with an outlier: got %v, want 3", got)
	}
}
