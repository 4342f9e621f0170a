package main

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/autorep/autorep/demo"
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
	if got := demo.Train(dir, 2, base); !reflect.DeepEqual(got, want) {
		t.Errorf("demo training run\n got %+v\nwant %+v", got, want)
	}

	lr := 0.004
	wantR, jsonOut, err := reduceFlags([]string{"--model", base, "--method", "autorep", "--budget", "15%",
		"--epochs", "3", "--lr", strconv.FormatFloat(lr, 'g', -1, 64), "--data", dir, "--out", reduced})
	if err != nil || jsonOut {
		t.Fatal(jsonOut, err)
	}
	gotR := demo.Reduce(dir, base, "15%", 3, lr, reduced)
	// Flags spell out the defaults a zero Config field takes.
	gotR.Config, wantR.Config = gotR.Config.WithDefaults(), wantR.Config.WithDefaults()
	if !reflect.DeepEqual(gotR, wantR) {
		t.Errorf("demo reduction run\n got %+v\nwant %+v", gotR, wantR)
	}
}
