package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
)

func init() {
	register("relus", "per-site and total ReLU counts of a model file or architecture", runReLUs)
}

func runReLUs(args []string) error {
	fs := newFlags("relus", "(--model FILE | --arch NAME --dataset D) [--json]",
		"Prints every ReLU site of a model with its activation shape and its ReLU count per\n"+
			"image (kept/total when a mask replaces some ReLUs by polynomials), and the total.")
	path := fs.String("model", "", "model file (.safetensors)")
	arch := fs.String("arch", "", "architecture instead of a file: "+strings.Join(models.Names(), ", "))
	dataset := fs.String("dataset", "", "dataset giving the input shape and classes for --arch")
	dataDir := fs.String("data", "", "data directory (only needed for datasets of unknown shape)")
	jsonOut := fs.Bool("json", false, "print the counts as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var m *models.Model
	var err error
	switch {
	case *path != "" && *arch != "":
		return errors.New("give either --model FILE or --arch NAME, not both")
	case *path != "":
		m, err = models.Load(*path)
	case *arch != "":
		if *dataset == "" {
			return errors.New("--arch needs --dataset (for the input shape and class count)")
		}
		in, classes, e := datasetShape(data.Dir(*dataDir), *dataset)
		if e != nil {
			return e
		}
		m, err = models.New(*arch, classes, in)
	default:
		return errors.New("give --model FILE or --arch NAME --dataset D")
	}
	if err != nil {
		return err
	}
	rows, total, full := m.SiteCounts()
	if *jsonOut {
		return printJSONObject(map[string]any{"arch": m.Arch, "input": m.Input, "classes": m.Classes,
			"sites": rows, "total": total, "all_relu": full})
	}
	w := len("total (000 sites)")
	for _, r := range rows {
		w = max(w, len(r.Name))
	}
	fmt.Fprintf(os.Stderr, "%-*s %12s %9s %9s\n", w, "site", "shape", "ReLUs", "of")
	for _, r := range rows {
		fmt.Fprintf(os.Stderr, "%-*s %12s %9d %9d\n", w, r.Name, shapeString(r.Shape), r.Kept, r.Total)
	}
	fmt.Fprintf(os.Stderr, "%-*s %12s %9d %9d\n", w, fmt.Sprintf("total (%d sites)", len(rows)), "", total, full)
	return nil
}

func shapeString(s []int) string {
	p := make([]string, len(s))
	for i, v := range s {
		p[i] = fmt.Sprint(v)
	}
	return strings.Join(p, "x")
}
