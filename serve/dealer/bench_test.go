package dealer

import (
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// BenchmarkGenerateLinear times the generation of ResNet-50's largest
// 3×3 convolution (256 → 256 channels at 14×14, about 2^27
// multiply-adds), the unit behind DefaultMaxRequestMACs: its ns/op times
// 2^35 / RequestCost().MACs is the longest generation the default admits.
func BenchmarkGenerateLinear(b *testing.B) {
	conv := corr.LinearSpec{N: 1, C: 256, H: 14, W: 14, K: 256, R: 3, S: 3, PadH: 1, PadW: 1}
	r := corr.Request{Kind: mpc.KindLinear, Label: "c", Linear: conv}
	d := mpcdealer.NewGenerator(ring.Seed{})
	for i := 0; b.Loop(); i++ {
		if _, _, err := d.Generate(r, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(RequestCost(r).MACs), "MACs/op")
}
