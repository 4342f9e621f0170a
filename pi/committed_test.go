package pi

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
)

// securePin is the exact online cost of one image of a committed model,
// as `autorep bench pi` measures it (docs/BENCHMARKS.md "Private
// inference"): payload bytes of both directions and the client's rounds.
type securePin struct {
	file   string
	frac   uint // bench pi's --frac of the documented run
	relus  int
	pools  int // max-pool comparisons per image
	bytes  int64
	rounds int64
	images int // test images checked (bench pi's fixed sample, seed 1)
}

// LeNet-5 (MNIST): every activation position costs the same online
// whether ReLU or polynomial, so all reductions cost the all-ReLU network's
// 148,304 B and 8 rounds (4 of them the max-pool tournaments); ResNet-20
// 12.9K AutoReP, degree 1 and 2 (CIFAR-10): 3,891,792 B and 19 rounds, as
// the all-ReLU ResNet-20. Activations right after a linear layer are
// preopened (secureBackend.preopen; before it: 200,368 B / 9 rounds and
// 4,710,992 B / 20 rounds). `bench pi --n 3 [--frac 20] --json` printed
// these numbers on 2026-12-06.
var securePins = []securePin{
	{"lenet-mnist.safetensors", 16, 6508, 4728, 148304, 8, 2},
	{"lenet-mnist-autorep10.safetensors", 16, 610, 4728, 148304, 8, 2},
	{"lenet-mnist-autorep10-cost.safetensors", 16, 605, 4728, 148304, 8, 1},
	{"lenet-mnist-autorep5.safetensors", 16, 296, 4728, 148304, 8, 1},
	{"lenet-mnist-autorep2.safetensors", 16, 106, 4728, 148304, 8, 1},
	{"lenet-mnist-autorep0.5.safetensors", 16, 17, 4728, 148304, 8, 1},
	{"lenet-mnist-snl10.safetensors", 16, 651, 4728, 148304, 8, 1},
	{"lenet-mnist-snl2.safetensors", 16, 130, 4728, 148304, 8, 1},
	{"resnet20-cifar10-autorep12.9k.safetensors", 20, 12894, 0, 3891792, 19, 3},
	{"resnet20-cifar10-autorep12.9k-d2.safetensors", 20, 12869, 0, 3891792, 19, 3},
}

// TestCommittedModelsSecurePins runs the committed LeNet-5 and ResNet-20
// 12.9K models through secure inference (in-process dealer, one image per
// request, as bench pi) on real test images and requires the documented
// online bytes and rounds exactly (client and server), labels equal to the
// fixed-point executor's (plan.EvalFixed), and logits within compare's
// bounds of the fixed-point and the float model's.
func TestCommittedModelsSecurePins(t *testing.T) {
	for _, pin := range securePins {
		t.Run(strings.TrimSuffix(pin.file, ".safetensors"), func(t *testing.T) {
			p := modelFile(pin.file)
			if p == "" {
				t.Fatalf("models/%s is missing: the pins are for the committed files", pin.file)
			}
			m, err := models.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if testing.Short() && m.Arch != "lenet" {
				t.Skip("short mode")
			}
			set := loadSet(t, m.Meta.Dataset).Sample(pin.images, 1)
			plan, err := Compile(m, Config{FracBits: pin.frac})
			if err != nil {
				t.Fatal(err)
			}
			relus, pools := plan.Public.ReLUs()
			if relus != pin.relus || pools != pin.pools {
				t.Fatalf("plan has %d ReLUs and %d max-pool comparisons, want %d and %d", relus, pools, pin.relus, pin.pools)
			}
			var xs []*tensor.Tensor
			for i := 0; i < set.N; i++ {
				xs = append(xs, set.Normalized(i))
			}
			res := runSecure(t, plan, false, xs...)
			for i, x := range xs {
				st, sv := res.stats[i], res.server[i]
				if st.Online.Bytes() != pin.bytes || st.Online.Rounds != pin.rounds {
					t.Errorf("image %d: client counts %d online bytes in %d rounds, want %d in %d",
						i, st.Online.Bytes(), st.Online.Rounds, pin.bytes, pin.rounds)
				}
				if sv.Online.Bytes() != pin.bytes {
					t.Errorf("image %d: server counts %d online bytes, want %d", i, sv.Online.Bytes(), pin.bytes)
				}
				// compare checks |secure − fixed| and |secure − float| (an
				// accuracy loss shows there) and counts equal labels.
				if agree, _ := compare(t, filepath.Base(p), m, plan, x, res.logits[i]); agree != 1 {
					t.Errorf("image %d: the secure label differs from the fixed-point executor's", i)
				}
			}
		})
	}
}

// TestCommittedCostsWithoutData pins the online bytes and rounds of the
// committed LeNet-5 files on a synthetic image, so that a change of the
// protocol's cost fails even where the datasets of
// TestCommittedModelsSecurePins are absent (the cost does not depend on
// the image).
func TestCommittedCostsWithoutData(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pin := range securePins[:2] {
		t.Run(strings.TrimSuffix(pin.file, ".safetensors"), func(t *testing.T) {
			m, err := models.Load(modelFile(pin.file))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compile(m, Config{FracBits: pin.frac})
			if err != nil {
				t.Fatal(err)
			}
			in := plan.Public.Input
			x := tensor.New(1, in[0], in[1], in[2])
			for i := range x.Data {
				x.Data[i] = float32(rng.NormFloat64())
			}
			res := runSecure(t, plan, false, x)
			st, sv := res.stats[0], res.server[0]
			if st.Online.Bytes() != pin.bytes || st.Online.Rounds != pin.rounds || sv.Online.Bytes() != pin.bytes {
				t.Errorf("client %d B in %d rounds, server %d B; want %d B in %d rounds",
					st.Online.Bytes(), st.Online.Rounds, sv.Online.Bytes(), pin.bytes, pin.rounds)
			}
		})
	}
}

// TestDealerMaterial pins DealerMaterial on the committed LeNet-5 models:
// the per-inference figures `bench pi --json` measures from the parties'
// providers (offline_material_server / _client, 2026-12-06).
func TestDealerMaterial(t *testing.T) {
	for _, c := range []struct {
		file           string
		server, client int64
	}{
		{"lenet-mnist.safetensors", 26457625, 26665782},
		{"lenet-mnist-autorep10.safetensors", 11359461, 12369234},
	} {
		m, err := models.Load(modelFile(c.file))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Compile(m, Config{FracBits: 16})
		if err != nil {
			t.Fatal(err)
		}
		setup, server, client, err := DealerMaterial(plan.Public)
		if err != nil {
			t.Fatal(err)
		}
		if server != c.server || client != c.client || setup <= 0 {
			t.Errorf("%s: setup %d, server %d, client %d B; want server %d, client %d", c.file, setup, server, client, c.server, c.client)
		}
	}
}
