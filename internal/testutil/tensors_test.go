package testutil

import (
	"math"
	"strings"
	"testing"

	"github.com/autorep/autorep/tensor"
)

func TestSameTensors(t *testing.T) {
	set := func(v float32) map[string]*tensor.Tensor {
		a := tensor.New(2, 3)
		for i := range a.Data {
			a.Data[i] = float32(i)
		}
		a.Data[4] = v
		s := tensor.New()
		s.Data = []float32{7}
		return map[string]*tensor.Tensor{"a": a, "s": s}
	}
	nan := math.Float32frombits(0x7fc00001)
	if err := SameTensors(set(nan), set(nan)); err != nil {
		t.Errorf("identical sets (same NaN): %v", err)
	}
	if err := SameTensors(set(nan), set(math.Float32frombits(0x7fc00002))); err == nil || !strings.Contains(err.Error(), "a[4] = NaN, want NaN") {
		t.Errorf("NaNs of other payloads: err %v", err)
	}
	negZero := float32(math.Copysign(0, -1))
	reshaped := set(1)
	reshaped["a"].Shape = []int{3, 2}
	renamed := set(1)
	renamed["b"] = renamed["a"]
	delete(renamed, "a")
	for _, c := range []struct {
		name string
		got  map[string]*tensor.Tensor
		want string
	}{
		{"-0 vs +0", set(negZero), "a[4] = -0, want 0"},
		{"value", set(4.5), "a[4] = 4.5, want 0"},
		{"shape", reshaped, `"a": shape [3 2]`},
		{"missing", renamed, `tensor "a" missing`},
		{"count", map[string]*tensor.Tensor{"a": set(0)["a"]}, "1 tensors, want 2"},
	} {
		err := SameTensors(set(0), c.got)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to contain %q", c.name, err, c.want)
		}
	}
}
