package onnxmodel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/onnx"
)

// KeyImport is the model-file metadata key of the import record (source,
// opset, producer, architecture, folded and calibrated batch norms, mixed
// sites, rewrites).
const KeyImport = "autorep.import"

// FileImport is what `autorep import` runs: an ONNX file in, an autorep
// model file out. Its fields are the command's flags, and its errors name
// them.
type FileImport struct {
	// ONNX is the file to import and Out the model file to write.
	ONNX, Out string
	// Dataset is the dataset the model classifies ("": the one a file
	// from Export records): it gives the input shape, classes and
	// normalisation recorded in the model file. DataDir is data.Dir's flag
	// value.
	Dataset, DataDir string
	// Arch is Options.Arch.
	Arch string
	// Pixels says the graph takes [0,1] pixels and normalises them
	// itself (Options.PixelMean, PixelStd: the dataset's normalisation).
	Pixels bool
	// Calibrate is how many training images (random, seed 1) give batch
	// norms folded by the exporter their statistics (CalibrateFolded; 0:
	// keep identity statistics).
	Calibrate int
}

// FileResult is what Run imported and wrote.
type FileResult struct {
	Model  *models.Model
	Report *Report
	// Opset and Producer are the ONNX file's; Calibrated is the number of
	// training images the folded batch norms were calibrated on.
	Opset      int64
	Producer   string
	Calibrated int
	// Rewrites is Report.Rewrites, never nil (JSON [] rather than null).
	Rewrites []string
}

// Run imports f.ONNX onto an architecture (ImportWith), checks it against
// the dataset's shape and classes, records the dataset, its normalisation
// and the import record (KeyImport) in the metadata, calibrates folded
// batch norms and saves the model to f.Out.
func (f FileImport) Run() (*FileResult, error) {
	if f.Calibrate < 0 {
		return nil, fmt.Errorf("--calibrate must be >= 0, got %d", f.Calibrate)
	}
	if f.ONNX == "" || f.Out == "" {
		return nil, errors.New("--onnx and --out are required")
	}
	om, err := onnx.ReadFile(f.ONNX)
	if err != nil {
		return nil, err
	}
	if f.Dataset == "" {
		// A file from autorep export names its dataset.
		if f.Dataset = om.Meta(modelfile.KeyDataset); f.Dataset == "" {
			return nil, fmt.Errorf("--dataset is required (%s records no %s)", f.ONNX, modelfile.KeyDataset)
		}
	}
	opt := Options{Arch: f.Arch}
	if f.Pixels {
		if opt.PixelMean, opt.PixelStd, err = datasetNorm(f.DataDir, f.Dataset); err != nil {
			return nil, err
		}
	}
	m, rep, err := ImportWith(om, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.ONNX, err)
	}
	shape, classes, err := data.ShapeOf(data.Dir(f.DataDir), f.Dataset)
	if err != nil {
		return nil, err
	}
	if shape != m.Input || classes != m.Classes {
		return nil, fmt.Errorf("%s takes input %v with %d outputs; dataset %s has images %v and %d classes", f.ONNX, m.Input, m.Classes, f.Dataset, shape, classes)
	}
	m.Meta.Dataset = f.Dataset
	if m.Meta.Mean, m.Meta.Std, err = datasetNorm(f.DataDir, f.Dataset); err != nil {
		return nil, err
	}
	res := &FileResult{Model: m, Report: rep, Opset: om.Opset(), Producer: strings.TrimSpace(om.ProducerName + " " + om.ProducerVersion), Rewrites: rep.Rewrites}
	if rep.FoldedBN > 0 && f.Calibrate > 0 {
		trainSet, err := data.Load(data.Dir(f.DataDir), f.Dataset, true)
		if err != nil {
			return nil, fmt.Errorf("loading the training images for --calibrate (0 skips it): %w", err)
		}
		sub := trainSet.Sample(f.Calibrate, 1)
		if err := CalibrateFolded(m, rep, sub.NormalizedRange(0, sub.N)); err != nil {
			return nil, err
		}
		res.Calibrated = sub.N
	}
	if res.Rewrites == nil {
		res.Rewrites = []string{}
	}
	record := map[string]any{"source": f.ONNX, "pixels": f.Pixels, "opset": res.Opset, "producer": res.Producer,
		"arch": rep.Arch, "folded_bn": rep.FoldedBN, "calibration_images": res.Calibrated, "mixed_sites": rep.Mixed, "rewrites": res.Rewrites}
	if err := m.Meta.SetJSON(KeyImport, record); err != nil {
		return nil, err
	}
	if err := m.Save(f.Out); err != nil {
		return nil, err
	}
	return res, nil
}

// datasetNorm returns the per-channel mean and std a dataset's images are
// normalised with: the standard constants of a known dataset, else its
// training split's statistics.
func datasetNorm(dir, name string) (mean, std []float32, err error) {
	if info, ok := data.Lookup(name); ok {
		return info.Mean, info.Std, nil
	}
	s, err := data.Load(data.Dir(dir), name, false)
	if err != nil {
		return nil, nil, err
	}
	return s.Mean, s.Std, nil
}
