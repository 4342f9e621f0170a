package models

import (
	"slices"
	"testing"
)

// TestSiteCounts: the rows of LeNet's all-ReLU sites (exact sizes) and of
// a committed reduced model add up to ReLUCount's totals.
func TestSiteCounts(t *testing.T) {
	m, err := New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	rows, kept, full := m.SiteCounts()
	want := []SiteCount{{"relu1", []int{6, 28, 28}, 4704, 4704}, {"relu2", []int{16, 10, 10}, 1600, 1600}, {"relu3", []int{120}, 120, 120}, {"relu4", []int{84}, 84, 84}}
	if len(rows) != len(want) || kept != 6508 || full != 6508 {
		t.Fatalf("rows %+v, kept %d, full %d", rows, kept, full)
	}
	for i, w := range want {
		r := rows[i]
		if r.Name != w.Name || r.Kept != w.Kept || r.Total != w.Total || !slices.Equal(r.Shape, w.Shape) {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
	}
	red, err := Load("lenet-mnist-autorep10.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	rows, kept, full = red.SiteCounts()
	_, total := red.ReLUCount()
	sum := 0
	for _, r := range rows {
		sum += r.Kept
	}
	if kept != total || sum != total || full != 6508 || kept >= full {
		t.Errorf("reduced: kept %d (rows %d, ReLUCount %d) of %d", kept, sum, total, full)
	}
}
