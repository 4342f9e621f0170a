package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce/sitecost"
)

// TestSiteCostsLeNet measures per-site ReLU costs on a random-weight LeNet
// and feeds the file to reduce's --cost reader.
func TestSiteCostsLeNet(t *testing.T) {
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the cost measurement on MNIST")
	}
	m, _, err := piLoadOrBuild("lenet", "mnist", dir)
	if err != nil {
		t.Skipf("mnist not available: %v", err)
	}
	set, err := data.Load(dir, "mnist", false)
	if err != nil {
		t.Skip(err)
	}
	set = set.Sample(2, 1)
	if err := allReLU(m); err != nil {
		t.Fatal(err)
	}
	plan, err := pi.Compile(m, pi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base := &piReport{}
	if err := benchPI(plan, m, set, 2, "pipe", false, base); err != nil {
		t.Fatal(err)
	}
	costs, err := measureSiteCosts(m, pi.Config{}, set, 2, "pipe", false, base)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	if len(costs) != len(fresh.Sites) {
		t.Fatalf("%d costs for %d sites", len(costs), len(fresh.Sites))
	}
	for i, c := range costs {
		if c.Site != fresh.Sites[i].Name || c.ReLUs != fresh.Sites[i].Size() {
			t.Errorf("cost %d: %+v, site %s of %d", i, c, fresh.Sites[i].Name, fresh.Sites[i].Size())
		}
		// A ReLU needs a DCF key, a polynomial position a few ring elements.
		if !(c.MaterialUs > 0) || !(c.Cost > 0) || c.ReLUMs <= 0 || c.PolyMs <= 0 {
			t.Errorf("site %s: implausible cost %+v", c.Site, c)
		}
	}
	path := filepath.Join(t.TempDir(), "cost.json")
	if err := writeCostFile(path, costs); err != nil {
		t.Fatal(err)
	}
	f, err := sitecost.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(fresh.Sites))
	for i, s := range fresh.Sites {
		names[i] = s.Name
	}
	w, err := f.Weights(names)
	if err != nil || f.Suite != "dealer" {
		t.Fatalf("weights %v, %v; suite %q", w, err, f.Suite)
	}
	for i := range w {
		if w[i] != costs[i].Cost {
			t.Errorf("weight %d = %v, want %v", i, w[i], costs[i].Cost)
		}
	}
	// The twin is all polynomial now: not a model to measure costs on.
	if err := allReLU(m); err == nil {
		t.Error("allReLU accepted a model without ReLUs")
	}
}

// TestSiteCostsFloor checks that noise cannot make a weight non-positive.
func TestSiteCostsFloor(t *testing.T) {
	m, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	relu, poly := &piReport{ServerMaterial: 1 << 20}, &piReport{}
	for i, s := range m.Sites {
		ms := float64(i + 1)
		if i == 0 {
			ms = 0 // the polynomial run was slower here
		}
		relu.Layers = append(relu.Layers, piLayer{Name: s.Name, Op: string(pi.OpAct), Ms: ms})
		poly.Layers = append(poly.Layers, piLayer{Name: s.Name, Op: string(pi.OpAct), Ms: 0.5})
	}
	costs, err := siteCosts(relu, poly, m.Sites)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range costs {
		if !(c.Cost > 0) {
			t.Errorf("site %s: cost %v", c.Site, c.Cost)
		}
	}
	if _, err := siteCosts(relu, &piReport{}, m.Sites); err == nil {
		t.Error("a twin without activation steps was accepted")
	}
}
