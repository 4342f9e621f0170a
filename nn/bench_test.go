package nn

import (
	"math/rand"
	"testing"

	"github.com/autorep/autorep/autograd"
)

// BenchmarkReLU is a forward + backward ReLU over a ResNet-20 layer1
// activation at batch 128 (2M elements).
func BenchmarkReLU(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	x := autograd.Param(randTensor(rng, 128, 16, 32, 32))
	seed := randTensor(rng, 128, 16, 32, 32)
	b.SetBytes(int64(4 * x.Value.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		ReLU(x).Backward(seed.Clone())
	}
}

// BenchmarkBatchNormTrain is a forward + backward training-mode batch norm
// over a ResNet-20 layer1 activation at batch 128.
func BenchmarkBatchNormTrain(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	x := autograd.Param(randTensor(rng, 128, 16, 32, 32))
	seed := randTensor(rng, 128, 16, 32, 32)
	bn := NewBatchNorm2d(16)
	b.SetBytes(int64(4 * x.Value.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		bn.Forward(x).Backward(seed.Clone())
	}
}
