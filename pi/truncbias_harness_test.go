package pi

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// BenchmarkFaithfulLogitBias is the issue-15 harness: committed ResNet-20
// models in the twoparty suite's default (faithful, PolyHE) form on
// consecutive CIFAR-10 test images ($AUTOREP_DATA; the original batches
// for reported figures), logging per image the signed error of each logit
// against EvalFixed's, in units of 2^−f, and splitting it into the
// image's common shift (the mean over its logits, which cannot change a
// label) and the rest. AUTOREP_BIAS_SKIP and AUTOREP_BIAS_N choose the
// images (default 0 and 10). One iteration is the whole measurement: run
// with -benchtime=1x -v (without -v go test keeps 10 lines of a
// benchmark's log).
func BenchmarkFaithfulLogitBias(b *testing.B) {
	skip, n := envInt(b, "AUTOREP_BIAS_SKIP", 0), envInt(b, "AUTOREP_BIAS_N", 10)
	set := loadSet(b, "cifar10")
	if skip < 0 || n <= 0 || skip+n > set.N {
		b.Fatalf("images %d..%d of a set of %d", skip, skip+n-1, set.N)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = skip + i
	}
	x := batch(set, idx)
	for _, c := range []struct {
		name, file   string
		f, ell, pBit int
	}{
		{"d1-f9", "resnet20-cifar10-autorep12.9k.safetensors", 9, 30, 33},
		{"d1-f10", "resnet20-cifar10-autorep12.9k.safetensors", 10, 32, 36},
		{"d1-f8", "resnet20-cifar10-autorep12.9k.safetensors", 8, 28, 0},
		{"relu-f8", "resnet20-cifar10-lossless.safetensors", 8, 28, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := modelFile(c.file)
			if path == "" {
				b.Skipf("models/%s is missing", c.file)
			}
			m, err := models.Load(path)
			if err != nil {
				b.Fatal(err)
			}
			poly, mode, err := SuiteForms(SuiteTwoParty, "")
			if err != nil {
				b.Fatal(err)
			}
			cfg := Config{FracBits: uint(c.f), Ell: c.ell, PBits: c.pBit, Poly: poly, Trunc: mode}
			plan, err := Compile(m, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if c.pBit == 0 && plan.Public.Poly == PolyHE {
				// The smallest prime these images need (MinWidths).
				if _, pb, err := plan.MinWidths(x); err != nil {
					b.Fatal(err)
				} else if plan, err = Compile(m, Config{FracBits: uint(c.f), Ell: c.ell, PBits: pb, Poly: poly, Trunc: mode}); err != nil {
					b.Fatal(err)
				}
			}
			want, err := plan.EvalFixed(x)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				got := inferEach(b, plan, set, idx)
				logBias(b, fmt.Sprintf("%s ℓ=%d P %d bits images %d..%d", c.name, plan.Public.Ell, plan.Public.PBits, skip, skip+n-1), got, want, c.f)
			}
		})
	}
}

// inferEach runs images idx of set one by one through the twoparty suite
// in one session over a pipe, without runSuiteOn's 5-minute deadline (a
// ResNet-20 image can take longer on a loaded machine), and returns their
// logits stacked.
func inferEach(b *testing.B, plan *Plan, set *data.Set, idx []int) *tensor.Tensor {
	c0, c1 := transport.Pipe()
	defer c0.Close()
	defer c1.Close()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- (&Server{Plan: plan, Suite: SuiteTwoParty}).Run(ctx, c0) }()
	cl := &Client{Public: plan.Public, Suite: SuiteTwoParty}
	var out *tensor.Tensor
	for i, j := range idx {
		y, _, err := cl.Infer(ctx, c1, batch(set, []int{j}))
		if err != nil {
			b.Fatalf("image %d: %v (server: %v)", j, err, drain(done))
		}
		if out == nil {
			out = tensor.New(len(idx), len(y.Data))
		}
		copy(out.Data[i*len(y.Data):], y.Data)
	}
	if err := cl.Close(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatalf("server: %v", err)
	}
	return out
}

// logBias logs the signed logit errors got − want ([N, K] logits at f
// fractional bits) in units of 2^−f: per image the errors, their common
// shift (the mean over the image's logits, which cannot change a label)
// and the largest deviation from it; per logit (class) the mean over the
// images, the systematic part a bias in the truncations would leave; and
// over all the mean, the RMS and the shares of the squared error that the
// images' common shifts and the classes' means explain.
func logBias(b *testing.B, what string, got, want *tensor.Tensor, f int) {
	n, k := want.Shape[0], want.Shape[1]
	unit := math.Ldexp(1, f)
	d := make([]float64, n*k)
	cls := make([]float64, k)
	var sum, sq, common float64
	agree := 0
	for i := range n {
		var mean, dev float64
		for j := range k {
			d[i*k+j] = float64(got.Data[i*k+j]-want.Data[i*k+j]) * unit
			mean += d[i*k+j] / float64(k)
			cls[j] += d[i*k+j] / float64(n)
		}
		for _, v := range d[i*k : (i+1)*k] {
			sum += v
			sq += v * v
			dev = max(dev, math.Abs(v-mean))
		}
		common += float64(k) * mean * mean
		ga, wa := argmaxOf(got, i), argmaxOf(want, i)
		if ga == wa {
			agree++
		}
		b.Logf("%s: image %d: common shift %+.1f units, max |deviation| %.1f, label %d (fixed %d), errors %.0f", what, i, mean, dev, ga, wa, d[i*k:(i+1)*k])
	}
	var sys float64
	for _, c := range cls {
		sys += float64(n) * c * c
	}
	tot := float64(n * k)
	sq = math.Max(sq, 1e-300)
	b.Logf("%s: per-class mean errors %.1f", what, cls)
	b.Logf("%s: agree %d/%d, mean error %+.2f units, RMS %.2f, max |error| %.0f; of the squared error %.0f%% the images' common shifts, %.0f%% the classes' means",
		what, agree, n, sum/tot, math.Sqrt(sq/tot), maxAbsOf(d), 100*common/sq, 100*sys/sq)
	b.ReportMetric(sum/tot, "mean-err-units")
	b.ReportMetric(math.Sqrt(sq/tot), "rms-err-units")
}

func maxAbsOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

// envInt is the integer environment variable name, or def when unset.
func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}
