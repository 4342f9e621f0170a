// Package sitecost is the per-site ReLU cost file: what one ReLU position of
// each activation site costs in private inference over a polynomial one,
// measured by `autorep bench pi --cost-out` (or any Go program through
// Derive and Write) and read by `autorep reduce --cost` (Read, Weights),
// which weighs each site's ReLUs in the budget loss by it.
//
// # Format, version 1
//
// A JSON object:
//
//	{
//	  "format": "autorep-site-costs",
//	  "version": 1,
//	  "suite": "dealer",            // protocol suite measured (optional)
//	  "unit": "us_per_relu",
//	  "sites": [                    // in the model's site order
//	    {"site": "relu1", "relus": 4704, "relu_ms": 1.9, "poly_ms": 0.4,
//	     "online_us_per_relu": 0.3, "material_us_per_relu": 2.1,
//	     "cost_us_per_relu": 2.4},
//	    ...
//	  ]
//	}
//
// Only "site" and "cost_us_per_relu" are needed to read a file; the other
// fields record how the cost was measured. Every cost is finite and > 0,
// every site listed once. Unknown fields are an error (a misspelt field
// would otherwise be silently ignored; as in encoding/json, names match
// case-insensitively), and so is a version other than 1.
//
// Version 0 is the unversioned file written before: a JSON object
// {"site": cost, ...} (docs/costs/lenet-mnist-cost.json); Read accepts it.
package sitecost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
)

// FormatName is the "format" field of a version-1 file.
const FormatName = "autorep-site-costs"

// Version is the format version Write produces.
const Version = 1

// Unit is the unit of Site.Cost in a version-1 file: microseconds per
// ReLU position.
const Unit = "us_per_relu"

// Site is one activation site's measured cost: the difference between the
// site evaluated as ReLUs and as polynomials, per ReLU position. It is
// what keeping one ReLU at that site costs.
type Site struct {
	Site  string `json:"site"`
	ReLUs int    `json:"relus"`
	// ReLUMs and PolyMs are the site's mean online time per image with
	// every position a ReLU, and with every position a polynomial.
	ReLUMs float64 `json:"relu_ms"`
	PolyMs float64 `json:"poly_ms"`
	// OnlineUs is (ReLUMs − PolyMs) per position, in microseconds.
	OnlineUs float64 `json:"online_us_per_relu"`
	// MaterialUs is the extra offline material of a ReLU position over a
	// polynomial one, as microseconds to ship it over the reference link.
	MaterialUs float64 `json:"material_us_per_relu"`
	// Cost is what a ReLU position costs, in microseconds (Unit).
	Cost float64 `json:"cost_us_per_relu"`
}

// File is the content of a cost file.
type File struct {
	// Suite names the protocol suite the costs were measured with ("" =
	// not recorded; version-0 files never record it).
	Suite string
	// Sites lists the sites in the model's order (a version-0 file's in
	// the file's order).
	Sites []Site
}

// fileV1 is the JSON layout of version 1.
type fileV1 struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Suite   string `json:"suite,omitempty"`
	Unit    string `json:"unit"`
	Sites   []Site `json:"sites"`
}

// Encode returns f in the version-1 format. It refuses a file that Decode
// would refuse (no sites, a repeated or empty site name, a cost that is
// not finite and positive).
func Encode(f File) ([]byte, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(fileV1{Format: FormatName, Version: Version, Suite: f.Suite, Unit: Unit, Sites: f.Sites}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write writes f to path in the version-1 format.
func Write(path string, f File) error {
	b, err := Encode(f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Decode parses a cost file of version 1 or 0.
func Decode(b []byte) (File, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return File{}, fmt.Errorf("want a JSON object (a %s file): %w", FormatName, err)
	}
	var format string
	if raw, ok := top["format"]; !ok || json.Unmarshal(raw, &format) != nil {
		return decodeV0(b)
	}
	if format != FormatName {
		return File{}, fmt.Errorf("format %q, want %q", format, FormatName)
	}
	var v fileV1
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return File{}, err
	}
	if dec.More() {
		return File{}, errors.New("data after the JSON object")
	}
	if v.Version != Version {
		return File{}, fmt.Errorf("format version %d, this program reads version %d (and unversioned files)", v.Version, Version)
	}
	if v.Unit != Unit {
		return File{}, fmt.Errorf("unit %q, want %q", v.Unit, Unit)
	}
	f := File{Suite: v.Suite, Sites: v.Sites}
	return f, f.validate()
}

// decodeV0 parses the unversioned {"site": cost, ...} object, keeping the
// file's order and refusing a repeated site (encoding/json would keep the
// last silently).
func decodeV0(b []byte) (File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{', checked by Decode
		return File{}, err
	}
	var f File
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return File{}, err
		}
		name := k.(string) // object keys are strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return File{}, err
		}
		n, ok := v.(json.Number) // not a string holding a number
		if !ok {
			return File{}, fmt.Errorf("site %q: cost %v is not a number", name, v)
		}
		c, err := n.Float64()
		if err != nil {
			return File{}, fmt.Errorf("site %q: %w", name, err)
		}
		f.Sites = append(f.Sites, Site{Site: name, Cost: c})
	}
	return f, f.validate()
}

// validate checks what both versions promise.
func (f File) validate() error {
	if len(f.Sites) == 0 {
		return errors.New("no sites")
	}
	seen := make(map[string]bool, len(f.Sites))
	for _, s := range f.Sites {
		switch {
		case s.Site == "":
			return errors.New("a site without a name")
		case seen[s.Site]:
			return fmt.Errorf("site %q listed twice", s.Site)
		case !(s.Cost > 0) || math.IsInf(s.Cost, 0):
			return fmt.Errorf("site %q has cost %g, want a finite cost > 0", s.Site, s.Cost)
		}
		seen[s.Site] = true
	}
	return nil
}

// Read reads and parses the cost file at path.
func Read(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	f, err := Decode(b)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Weights returns the costs in the order of sites, the budget-loss weights
// of reduce.Config.CostWeights. Every site must be in f and every site of
// f in sites: a file measured on another architecture is an error.
func (f File) Weights(sites []string) ([]float64, error) {
	cost := make(map[string]float64, len(f.Sites))
	for _, s := range f.Sites {
		cost[s.Site] = s.Cost
	}
	w := make([]float64, len(sites))
	for i, name := range sites {
		c, ok := cost[name]
		if !ok {
			return nil, fmt.Errorf("no cost for site %q", name)
		}
		w[i] = c
		delete(cost, name)
	}
	for _, s := range f.Sites {
		if _, ok := cost[s.Site]; ok {
			return nil, fmt.Errorf("unknown site %q (not in the model)", s.Site)
		}
	}
	return w, nil
}
