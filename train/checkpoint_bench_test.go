package train

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/tensor"
)

// BenchmarkCheckpointResNet18 writes the checkpoint of a CIFAR-10
// ResNet-18 under Adam (11.2M weights and both moments, about 134 MB, as
// a reduction's search checkpoint): the cost of one mid-epoch checkpoint.
func BenchmarkCheckpointResNet18(b *testing.B) {
	m, err := models.NewSeeded("resnet18", 10, [3]int{3, 32, 32}, 1)
	if err != nil {
		b.Fatal(err)
	}
	params := optim.ParamsOf(m.Net)
	opt, err := optim.NewAdam([]optim.Group{{Params: params}}, optim.AdamConfig{LR: 1e-3})
	if err != nil {
		b.Fatal(err)
	}
	// One step on zero gradients allocates the moments.
	for _, p := range params {
		p.Var.AccumGrad(tensor.New(p.Var.Value.Shape...))
	}
	opt.Step()
	path := filepath.Join(b.TempDir(), "r18.ckpt")
	tr := &Trainer{Model: m, Opt: opt}
	b.ResetTimer()
	for range b.N {
		if err := tr.SaveCheckpoint(path); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "MB")
	}
}
