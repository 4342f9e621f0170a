package reduce

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// BenchmarkMaskedSite measures forward+backward of one AutoReP site the
// size of a ResNet-18 stage-2 activation (128 images × 128×16×16), half the
// mask replaced by degree-2 polynomials.
func BenchmarkMaskedSite(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := NewMasked("s", []int{128, 16, 16}, 2, rng)
	if err != nil {
		b.Fatal(err)
	}
	for i := range m.Mask {
		m.Mask[i] = float32(i % 2)
		m.Score.Value.Data[i] = float32(1 - 2*(i%2)) // keep the mask as set
	}
	m.SetTraining(true)
	x := autograd.Param(randTensor(rng, 1, 128, 128, 16, 16))
	g := tensor.Full(1, 128, 128, 16, 16)
	b.SetBytes(int64(4 * len(x.Value.Data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		m.Score.ZeroGrad()
		m.Coef.ZeroGrad()
		m.Apply(x).Backward(g)
	}
}
