// Command minwidths prints the share width ℓ and the PolyHE prime width
// that a model's twoparty plan needs (pi.Plan.MinWidths) on the images an
// agreement run uses: the first --n images of autorep bench pi's fixed
// subset (bench.Subset, seed 1), in chunks of --chunk as
// scripts/agree-twoparty.sh runs them. bench pi reports min_ell per chunk
// but not the prime width, and only after the secure run; this runs the
// fixed-point executor alone (seconds per 100 ResNet-20 images), so f, ℓ
// and --pbits can be chosen before a long run starts.
//
//	go run ./scripts/minwidths --model FILE --frac F [--n 1000] [--chunk 10] [--data DIR] [--dataset D]
//
// Output: one JSON object: the largest ℓ and prime width over the chunks,
// and how many chunks need each (ℓ, P) pair.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/pi/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "minwidths:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("minwidths", flag.ContinueOnError)
	model := fs.String("model", "", "model file (.safetensors; required)")
	frac := fs.Uint("frac", 0, "fractional bits of the plan (required, 1..20)")
	n := fs.Int("n", 1000, "images: the first N of bench pi's fixed subset")
	chunk := fs.Int("chunk", 10, "images per MinWidths call (agree-twoparty.sh's --chunk)")
	dir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	dataset := fs.String("dataset", "", "dataset (default: the one recorded in the model file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *frac < 1 || *frac > 20 || *n < 1 || *chunk < 1 || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("need --model, --frac in 1..20, positive --n and --chunk, and no other arguments")
	}
	m, err := models.Load(*model)
	if err != nil {
		return err
	}
	set, _, err := bench.Images(m, *model, *dataset, *dir, 0, *n)
	if err != nil {
		return err
	}
	// The widest ℓ and prime, so that compiling does not refuse a width
	// the images need; MinWidths measures what they need.
	plan, err := pi.Compile(m, pi.Config{FracBits: *frac, Ell: 64, Poly: pi.PolyHE, PBits: pi.MaxPBits, Trunc: pi.TruncFaithful})
	if err != nil {
		return err
	}
	type need struct {
		Ell   int `json:"ell"`
		PBits int `json:"pbits"`
		N     int `json:"chunks"`
	}
	var needs []need
	maxEll, maxP := 0, 0
	for k := 0; k < set.N; k += *chunk {
		ell, p, err := plan.MinWidths(set.NormalizedRange(k, min(k+*chunk, set.N)))
		if err != nil {
			return fmt.Errorf("images %d..: %w", k, err)
		}
		maxEll, maxP = max(maxEll, ell), max(maxP, p)
		found := false
		for i := range needs {
			if needs[i].Ell == ell && needs[i].PBits == p {
				needs[i].N++
				found = true
			}
		}
		if !found {
			needs = append(needs, need{ell, p, 1})
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"model": *model, "frac": *frac, "images": set.N, "chunk": *chunk,
		"max_ell": maxEll, "max_pbits": maxP, "needs": needs,
	})
}
