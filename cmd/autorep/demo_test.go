package main

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/autorep/autorep/demo"
)

// TestDemoRunsEqualCommands: the demo's training and reduction runs are the
// ones `autorep train` and `autorep reduce` make from the command lines the
// demo used to pass them.
func TestDemoRunsEqualCommands(t *testing.T) {
	dir, base, reduced := "/data", "/w/lenet.safetensors", "/w/lenet-autorep.safetensors"
	want, threads, jsonOut, err := trainFlags([]string{"--model", "lenet", "--dataset", "mnist", "--data", dir,
		"--epochs", "2", "--checkpoint-every", "0", "--out", base})
	if err != nil || threads != 0 || jsonOut {
		t.Fatal(threads, jsonOut, err)
	}
	if got := demo.Train(dir, 2, base); !reflect.DeepEqual(got, want) {
		t.Errorf("demo training run\n got %+v\nwant %+v", got, want)
	}

	lr := 0.004
	wantR, jsonOut, err := reduceFlags([]string{"--model", base, "--method", "autorep", "--budget", "15%",
		"--degree", "1", "--epochs", "3", "--lr", strconv.FormatFloat(lr, 'g', -1, 64), "--checkpoint-every", "0", "--data", dir, "--out", reduced})
	if err != nil || jsonOut {
		t.Fatal(jsonOut, err)
	}
	gotR := demo.Reduce(dir, base, "15%", 1, 3, lr, reduced)
	// Flags spell out the defaults a zero Config field takes.
	gotR.Config, wantR.Config = gotR.Config.WithDefaults(), wantR.Config.WithDefaults()
	if !reflect.DeepEqual(gotR, wantR) {
		t.Errorf("demo reduction run\n got %+v\nwant %+v", gotR, wantR)
	}
}

// TestParseDegrees: demo.ParseDegrees (--degrees) takes distinct degrees 1–3 and refuses the
// rest with an error naming the flag.
func TestParseDegrees(t *testing.T) {
	for in, want := range map[string][]int{"2,1": {2, 1}, "1": {1}, " 3 , 2": {3, 2}} {
		if got, err := demo.ParseDegrees(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseDegrees(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "4", "1,1", "2,x", "2,"} {
		if got, err := demo.ParseDegrees(in); err == nil || !strings.Contains(err.Error(), "--degrees") {
			t.Errorf("parseDegrees(%q) = %v, %v; want an error naming --degrees", in, got, err)
		}
	}
}

// TestDemoBadDegrees: a bad --degrees stops the command with exit 1 and
// a message naming the flag, before any data, training or servers.
func TestDemoBadDegrees(t *testing.T) {
	wantFail(t, runCLI(t, short, "demo", "--degrees", "2,4", "--workdir", t.TempDir()), 1, "--degrees")
}
