package main

import (
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/autorep/autorep/models"
)

// TestDemoRunsEqualCommands: the demo's training and reduction runs are the
// ones `autorep train` and `autorep reduce` make from the command lines the
// demo used to pass them.
func TestDemoRunsEqualCommands(t *testing.T) {
	dir, base, reduced := "/data", "/w/lenet.safetensors", "/w/lenet-autorep.safetensors"
	want, threads, jsonOut, err := trainFlags([]string{"--model", "lenet", "--dataset", "mnist", "--data", dir,
		"--epochs", "2", "--out", base})
	if err != nil || threads != 0 || jsonOut {
		t.Fatal(threads, jsonOut, err)
	}
	if got := demoTrain(dir, 2, base); !reflect.DeepEqual(got, want) {
		t.Errorf("demo training run\n got %+v\nwant %+v", got, want)
	}

	lr := 0.004
	wantR, jsonOut, err := reduceFlags([]string{"--model", base, "--method", "autorep", "--budget", "15%",
		"--epochs", "3", "--lr", strconv.FormatFloat(lr, 'g', -1, 64), "--data", dir, "--out", reduced})
	if err != nil || jsonOut {
		t.Fatal(jsonOut, err)
	}
	gotR := demoReduce(dir, base, "15%", 3, lr, reduced)
	// Flags spell out the defaults a zero Config field takes.
	gotR.Config, wantR.Config = gotR.Config.WithDefaults(), wantR.Config.WithDefaults()
	if !reflect.DeepEqual(gotR, wantR) {
		t.Errorf("demo reduction run\n got %+v\nwant %+v", gotR, wantR)
	}
}

// TestDemoTrainReduce runs the demo's two library steps on MNIST subsets
// (the demo itself trains on everything): a trained all-ReLU LeNet, then an
// AutoReP model within the budget, both loadable.
func TestDemoTrainReduce(t *testing.T) {
	dir := needData(t, "mnist")
	work := t.TempDir()
	base, reduced := filepath.Join(work, "lenet.safetensors"), filepath.Join(work, "lenet-autorep.safetensors")
	tr := demoTrain(dir, 1, base)
	tr.Limit, tr.TestLimit, tr.Progress = 2048, 200, nil
	res, err := tr.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Last.TestAcc < 0.5 { // chance is 0.1
		t.Errorf("LeNet after one epoch on 2048 images: test accuracy %.2f", res.Last.TestAcc)
	}
	red := demoReduce(dir, base, "15%", 1, 0.004, reduced)
	red.TrainLimit, red.Config.Progress = 512, nil
	rec, err := red.Run()
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(reduced)
	if err != nil {
		t.Fatal(err)
	}
	_, relus := m.ReLUCount()
	if relus != rec.ReLUs || relus > rec.Budget || rec.Budget != 976 || rec.Method != "autorep" {
		t.Errorf("reduced model: %d ReLUs, record %d of budget %d (%s)", relus, rec.ReLUs, rec.Budget, rec.Method)
	}
}
