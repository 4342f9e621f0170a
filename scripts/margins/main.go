// Command margins lists the images of an agreement run on which the
// fixed-point executor's label is a near-tie: its two best logits closer
// than --below. The twoparty suite's truncation gives the executor's
// value or one unit (2^−f) more at each step (docs/PROTOCOLS.md), so on
// such an image the private label may differ from the executor's without
// any protocol error; listing them before (or independently of) the secure
// run says which differences are ties. The executor alone runs (seconds
// per 100 ResNet-20 images), on the images bench pi uses: the first --n of
// its fixed subset (bench.Subset, seed 1), compiled as bench pi compiles
// them for --suite.
//
//	go run ./scripts/margins --model FILE --frac F --ell L [--pbits P] [--suite twoparty] [--n 1000] [--below 0.1] [--data DIR] [--dataset D]
//
// Output: one JSON object: the number of images, and those below the
// threshold, smallest margin first, each with its index in the subset,
// the dataset's label, the executor's two best labels and their margin.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/pi/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "margins:", err)
		os.Exit(1)
	}
}

// tie is one near-tie image.
type tie struct {
	Image  int     `json:"image"`
	Label  int     `json:"label"`
	First  int     `json:"fixed_label"`
	Second int     `json:"runner_up"`
	Margin float64 `json:"margin"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("margins", flag.ContinueOnError)
	model := fs.String("model", "", "model file (.safetensors; required)")
	frac := fs.Uint("frac", 0, "fractional bits of the plan (required)")
	ell := fs.Int("ell", 0, "share width ℓ (required)")
	pbits := fs.Int("pbits", 0, "PolyHE prime width (as bench pi's --pbits; 0 = its default)")
	suite := fs.String("suite", "twoparty", "suite whose plan is compiled (dealer, twoparty)")
	n := fs.Int("n", 1000, "images: the first N of bench pi's fixed subset")
	below := fs.Float64("below", 0.1, "list the images whose top-two logit margin is below this")
	dir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	dataset := fs.String("dataset", "", "dataset (default: the one recorded in the model file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *frac < 1 || *ell < 1 || *n < 1 || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("need --model, --frac, --ell, a positive --n and no other arguments")
	}
	m, err := models.Load(*model)
	if err != nil {
		return err
	}
	set, _, err := bench.Images(m, *model, *dataset, *dir, 0, *n)
	if err != nil {
		return err
	}
	cfg, err := (pi.Config{FracBits: *frac, Ell: *ell, PBits: *pbits}).ForSuite(*suite, "")
	if err != nil {
		return err
	}
	plan, err := pi.Compile(m, cfg)
	if err != nil {
		return err
	}
	var ties []tie
	const chunk = 50
	for k := 0; k < set.N; k += chunk {
		hi := min(k+chunk, set.N)
		out, err := plan.EvalFixed(set.NormalizedRange(k, hi))
		if err != nil {
			return fmt.Errorf("images %d..%d: %w", k, hi-1, err)
		}
		classes := out.Shape[len(out.Shape)-1]
		for i := k; i < hi; i++ {
			t := topTwo(out.Data[(i-k)*classes : (i-k+1)*classes])
			if t.Margin < *below {
				t.Image, t.Label = i, int(set.Labels[i])
				ties = append(ties, t)
			}
		}
	}
	sort.Slice(ties, func(i, j int) bool { return ties[i].Margin < ties[j].Margin })
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"model": *model, "suite": *suite, "frac": *frac, "ell": *ell, "pbits": *pbits,
		"images": set.N, "below": *below, "ties": ties,
	})
}

// topTwo returns the best and second-best labels of logits and the margin
// between them.
func topTwo(logits []float32) tie {
	a, b := 0, -1
	for j := 1; j < len(logits); j++ {
		switch {
		case logits[j] > logits[a]:
			a, b = j, a
		case b < 0 || logits[j] > logits[b]:
			b = j
		}
	}
	return tie{First: a, Second: b, Margin: float64(logits[a]) - float64(logits[b])}
}
