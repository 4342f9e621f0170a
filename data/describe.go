package data

import (
	"slices"
	"time"
)

// SplitInfo describes one loaded split of a dataset.
type SplitInfo struct {
	N        int     `json:"n"`
	Source   string  `json:"source"`
	LoadSecs float64 `json:"load_seconds"`
}

// Description is what `autorep data info` reports of a dataset: its
// shape, classes and normalisation, and where each split was found.
type Description struct {
	Name       string     `json:"name"`
	DataDir    string     `json:"data_dir"`
	Channels   int        `json:"channels"`
	Height     int        `json:"height"`
	Width      int        `json:"width"`
	Classes    int        `json:"classes"`
	ClassNames []string   `json:"class_names"`
	Mean       []float32  `json:"mean"`
	Std        []float32  `json:"std"`
	Train      SplitInfo  `json:"train"`
	Test       *SplitInfo `json:"test,omitempty"`
	TestError  string     `json:"test_error,omitempty"`
	CacheDir   string     `json:"cache_dir"`
}

// Describe loads both splits of dataset name under dir (decoding and
// caching them on first use) and describes it. A training split that
// does not load is an error; a test split that does not load is recorded
// in TestError.
func Describe(dir, name string) (*Description, error) {
	load := func(train bool) (*Set, float64, error) {
		t0 := time.Now()
		s, err := Load(dir, name, train)
		return s, time.Since(t0).Seconds(), err
	}
	tr, secs, err := load(true)
	if err != nil {
		return nil, err
	}
	d := &Description{Name: tr.Name, DataDir: dir, Channels: tr.C, Height: tr.H, Width: tr.W, Classes: tr.Classes,
		ClassNames: tr.ClassNames, Mean: tr.Mean, Std: tr.Std, Train: SplitInfo{N: tr.N, Source: tr.Source, LoadSecs: secs},
		CacheDir: CacheDir()}
	if te, secs, err := load(false); err != nil {
		d.TestError = err.Error()
	} else {
		d.Test = &SplitInfo{N: te.N, Source: te.Source, LoadSecs: secs}
	}
	return d, nil
}

// Entry is one known dataset in a data directory, as `autorep data list`
// reports it.
type Entry struct {
	Name      string   `json:"name"`
	Present   bool     `json:"present"`
	Source    string   `json:"source,omitempty"` // where it was found, if present
	Expected  []string `json:"expected"`         // the layouts looked for
	Fetchable bool     `json:"fetchable"`        // Fetch can download it
}

// Catalog lists every known dataset (Names) and whether and where it is
// found under dir, without decoding anything.
func Catalog(dir string) []Entry {
	var out []Entry
	for _, n := range Names() {
		info, _ := Lookup(n)
		e := Entry{Name: n, Expected: info.Layouts, Fetchable: slices.Contains(Fetchable(), n)}
		if where, err := Locate(dir, n); err == nil {
			e.Present, e.Source = true, where
		}
		out = append(out, e)
	}
	return out
}
