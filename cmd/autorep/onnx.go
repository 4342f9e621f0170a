package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/onnx"
	"github.com/autorep/autorep/onnxmodel"
)

func init() {
	register("import", "turn an ONNX model exported from PyTorch into an autorep model file", runImport)
	register("export", "write an autorep model (reduced or not) as an ONNX file", runExport)
}

func runImport(args []string) error {
	fs := newFlags("import", "--onnx FILE.onnx --dataset D --out MODEL.safetensors [--arch NAME]",
		"Reads a CNN exported by torch.onnx.export (opsets "+fmt.Sprint(onnxmodel.MinOpset)+" to "+fmt.Sprint(onnxmodel.MaxOpset)+"; operators\n"+
			strings.Join(onnxmodel.Supported, ", ")+")\n"+
			"and maps it onto an autorep architecture, or else keeps its graph (arch \"graph\").\n"+
			"Every Relu becomes a named, maskable ReLU site, so eval, relus, reduce, bench pi\n"+
			"and serve work on the result. Batch norm folded into the convolutions by the exporter becomes the\n"+
			"architecture's batch norm, calibrated on training images to compute the same\n"+
			"function in evaluation and training mode. The model must take\n"+
			"inputs normalised with the dataset's standard mean and std (see docs/CLI.md),\n"+
			"or, with --pixels, [0,1] pixels that its graph normalises itself.")
	in := fs.String("onnx", "", "ONNX file to import (required)")
	dataset := fs.String("dataset", "", "dataset the model classifies (required unless the file is from autorep export): gives the input shape, classes and normalisation recorded in the file")
	dataDir := fs.String("data", "", "data directory (training images for --calibrate; datasets of unknown shape)")
	out := fs.String("out", "", "model file to write (.safetensors; required)")
	arch := fs.String("arch", "", "architecture to map onto (default: the first that matches, else the graph itself): "+strings.Join(models.Names(), ", "))
	pixels := fs.Bool("pixels", false, "the model takes [0,1] pixels and normalises them in its graph ((x − mean)/std, torchvision style): import prepends the inverse of the dataset's normalisation, which cancels against the model's own where the constants agree")
	calib := fs.Int("calibrate", 512, "training images (random, seed 1) giving batch norms folded by the exporter their statistics (0 = keep identity statistics)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	res, err := onnxmodel.FileImport{ONNX: *in, Out: *out, Dataset: *dataset, DataDir: *dataDir, Arch: *arch, Pixels: *pixels, Calibrate: *calib}.Run()
	if err != nil {
		return err
	}
	m, rep, calibrated, rewrites := res.Model, res.Report, res.Calibrated, res.Rewrites
	_, relus := m.ReLUCount()
	if *jsonOut {
		return printJSONObject(map[string]any{"out": *out, "arch": rep.Arch, "input": m.Input, "classes": m.Classes,
			"sites": rep.Sites, "mixed_sites": rep.Mixed, "relus": relus, "folded_bn": rep.FoldedBN, "calibration_images": calibrated, "opset": res.Opset, "rewrites": rewrites})
	}
	fmt.Fprintf(os.Stderr, "imported %s (opset %d) as %s: %d ReLU sites (%d mixed), %d ReLUs, %d folded batch norms (calibrated on %d images); wrote %s\n",
		*in, res.Opset, rep.Arch, rep.Sites, rep.Mixed, relus, rep.FoldedBN, calibrated, *out)
	for _, r := range rep.Rewrites {
		fmt.Fprintf(os.Stderr, "  %s\n", r)
	}
	return nil
}

func runExport(args []string) error {
	fs := newFlags("export", "--onnx MODEL.safetensors --out FILE.onnx",
		"Writes an autorep model file as ONNX (opset "+fmt.Sprint(onnxmodel.ExportOpset)+"): Conv, BatchNormalization, Relu, Add, Gemm,\n"+
			"pooling and Flatten; a reduced model's mixed activations as\n"+
			"m·Relu(x) + (1−m)·(c2·x·x + c1·x + c0) with Mul and Add only (Horner form).")
	in := fs.String("onnx", "", "autorep model file to export (.safetensors; required)")
	out := fs.String("out", "", "ONNX file to write (required)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *in == "" || *out == "" {
		return errors.New("--onnx and --out are required")
	}
	m, err := models.Load(*in)
	if err != nil {
		return err
	}
	om, err := onnxmodel.Export(m)
	if err != nil {
		return err
	}
	if err := onnx.WriteFile(*out, om); err != nil {
		return err
	}
	_, relus := m.ReLUCount()
	if *jsonOut {
		return printJSONObject(map[string]any{"out": *out, "arch": m.Arch, "opset": onnxmodel.ExportOpset,
			"nodes": len(om.Graph.Nodes), "initializers": len(om.Graph.Initializers), "relus": relus})
	}
	fmt.Fprintf(os.Stderr, "exported %s (%s, %d ReLUs) as %s: opset %d, %d nodes\n", *in, m.Arch, relus, *out, onnxmodel.ExportOpset, len(om.Graph.Nodes))
	return nil
}
