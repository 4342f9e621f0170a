// Package sitecost is the per-site ReLU cost file: what one ReLU position of
// each activation site costs in private inference over a polynomial one,
// measured by `autorep bench pi --cost-out` (or any Go program through
// Derive and Write) and read by `autorep reduce --cost` (Read, Weights),
// which weighs each site's ReLUs in the budget loss by it.
//
// # Format, version 2
//
// A JSON object:
//
//	{
//	  "format": "autorep-site-costs",
//	  "version": 2,
//	  "suite": "twoparty",          // protocol suite measured (optional)
//	  "unit": "us_per_relu",
//	  "link_gbit_s": 3,             // link the bytes are counted on (optional)
//	  "runs": [                     // the whole-model runs measured (optional)
//	    {"name": "relu", "images": 3, "cpu_s_per_image": 0.43,
//	     "bytes_per_image": 8279963, "latency_ms_p50": 830},
//	    {"name": "poly1", ...}, {"name": "poly2", ...},
//	    {"name": "relu-repeat", ...}
//	  ],
//	  "sites": [                    // in the model's site order
//	    {"site": "relu1", "relus": 4704, "relu_ms": 49.3, "relu_bytes": 2805632,
//	     "cost_us_per_relu": 2.4,   // the degree-2 saving (a reader's default)
//	     "degrees": [
//	       {"degree": 1, "poly_ms": 20.1, "poly_bytes": 1505632,
//	        "online_us_per_relu": 6.2, "cpu_us_per_relu": 22.1,
//	        "bytes_saved_per_relu": 276.4, "bytes_us_per_relu": 0.74,
//	        "cost_us_per_relu": 22.84},
//	       {"degree": 2, ...}
//	     ]},
//	    ...
//	  ]
//	}
//
// relu_ms and relu_bytes are the site's activation step with every position
// a ReLU (mean wall time and traffic per image, both directions, the
// step's offline traffic included: its share of the request's offline
// phase and any made while it ran), poly_ms and poly_bytes the same
// with every position a polynomial of the degree. A degree's cost is the
// saving one replaced position brings (Derive): the CPU time saved per
// position (the runs' process CPU difference, all parties, spread evenly
// over the positions) plus the bytes saved per position (the step's own
// and an even share of the rest of the model's per-image traffic that
// changed, such as the dealer suite's material; setup excluded) as
// microseconds on the link. Weights(sites, d) picks degree d's cost where the sites list
// degrees, "cost_us_per_relu" otherwise.
//
// Only "site" and "cost_us_per_relu" (and, where given, each degree's
// "degree" and "cost_us_per_relu") are needed to read a file. Every cost is
// finite and > 0, every site and every degree of a site listed once.
// Unknown fields are an error (a misspelt field would otherwise be silently
// ignored; as in encoding/json, names match case-insensitively), and so is
// a version other than 0, 1 and 2.
//
// Version 1 is version 2 without "link_gbit_s", "runs", "relu_bytes" and
// "degrees", and with the degree-2 twin's "poly_ms", "online_us_per_relu"
// and "material_us_per_relu" (the dealer material saved, in µs) on each
// site; Read accepts it. Version 0 is the unversioned file written before:
// a JSON object {"site": cost, ...} (docs/costs/lenet-mnist-cost.json);
// Read accepts it too.
package sitecost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
)

// FormatName is the "format" field of a versioned file.
const FormatName = "autorep-site-costs"

// Version is the format version Write produces.
const Version = 2

// Unit is the unit of every cost in a versioned file: microseconds per
// ReLU position.
const Unit = "us_per_relu"

// Site is one activation site's measured cost: what keeping one ReLU at
// that site costs over a polynomial position.
type Site struct {
	Site  string `json:"site"`
	ReLUs int    `json:"relus"`
	// ReLUMs is the site's mean activation-step wall time per image with
	// every position a ReLU; ReLUBytes its traffic per image then (both
	// directions, online and the step's offline traffic; version 2).
	ReLUMs    float64 `json:"relu_ms"`
	ReLUBytes int64   `json:"relu_bytes,omitempty"`
	// PolyMs, OnlineUs and MaterialUs are version 1's record of the
	// degree-2 twin: its step time, (ReLUMs − PolyMs) per position in µs,
	// and the dealer material saved per position as µs on the reference
	// link. Version 2 records each degree in Degrees instead.
	PolyMs     float64 `json:"poly_ms,omitempty"`
	OnlineUs   float64 `json:"online_us_per_relu,omitempty"`
	MaterialUs float64 `json:"material_us_per_relu,omitempty"`
	// Cost is what a ReLU position costs over a polynomial one, in
	// microseconds (Unit): in version 2 the degree-2 saving if measured,
	// else the lowest degree's.
	Cost float64 `json:"cost_us_per_relu"`
	// Degrees holds the saving of each measured polynomial degree
	// (version 2; ascending degrees).
	Degrees []Poly `json:"degrees,omitempty"`
}

// Poly is what replacing the ReLU positions of a site by polynomials of one
// degree saves, per position.
type Poly struct {
	Degree int `json:"degree"`
	// PolyMs and PolyBytes are the step's wall time and traffic per image
	// with every position a polynomial of this degree (as Site.ReLUMs and
	// Site.ReLUBytes).
	PolyMs    float64 `json:"poly_ms"`
	PolyBytes int64   `json:"poly_bytes"`
	// OnlineUs is (ReLUMs − PolyMs) per position, in µs (recorded, not
	// counted in Cost: wall time on a shared machine is mostly noise).
	OnlineUs float64 `json:"online_us_per_relu"`
	// CPUUs is the CPU time saved per position, in µs: the whole run's
	// process CPU difference (all parties) spread over all positions.
	CPUUs float64 `json:"cpu_us_per_relu"`
	// BytesSaved is (ReLUBytes − PolyBytes) per position plus the
	// position's even share of the rest of the model's per-image traffic
	// that changed (the dealer suite's material); BytesUs is that as µs
	// on the link.
	BytesSaved float64 `json:"bytes_saved_per_relu"`
	BytesUs    float64 `json:"bytes_us_per_relu"`
	// Cost is CPUUs + BytesUs, floored (Derive): the budget-loss weight.
	Cost float64 `json:"cost_us_per_relu"`
}

// RunInfo records one whole-model run a file was measured from.
type RunInfo struct {
	// Name is "relu" (every site all ReLU), "poly<d>" (every site a
	// polynomial of degree d) or "relu-repeat" (all ReLU again, after the
	// others: bench pi takes the mean CPU of the two all-ReLU runs).
	Name   string `json:"name"`
	Images int    `json:"images"`
	// CPU is the process CPU time per image (both parties in one
	// process), Bytes the traffic per image without the session setup,
	// LatencyMs the median online latency.
	CPU       float64 `json:"cpu_s_per_image"`
	Bytes     int64   `json:"bytes_per_image"`
	LatencyMs float64 `json:"latency_ms_p50"`
}

// File is the content of a cost file.
type File struct {
	// Suite names the protocol suite the costs were measured with ("" =
	// not recorded; version-0 files never record it).
	Suite string
	// LinkGbps is the link speed bytes were counted on (0 = not recorded).
	LinkGbps float64
	// Runs lists the whole-model runs measured (nil = not recorded).
	Runs []RunInfo
	// Sites lists the sites in the model's order (a version-0 file's in
	// the file's order).
	Sites []Site
}

// fileV is the JSON layout of versions 1 and 2.
type fileV struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Suite    string    `json:"suite,omitempty"`
	Unit     string    `json:"unit"`
	LinkGbps float64   `json:"link_gbit_s,omitempty"`
	Runs     []RunInfo `json:"runs,omitempty"`
	Sites    []Site    `json:"sites"`
}

// Encode returns f in the version-2 format. It refuses a file that Decode
// would refuse (no sites, a repeated or empty site name, a repeated degree,
// a cost that is not finite and positive).
func Encode(f File) ([]byte, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(fileV{Format: FormatName, Version: Version, Suite: f.Suite, Unit: Unit,
		LinkGbps: f.LinkGbps, Runs: f.Runs, Sites: f.Sites}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write writes f to path in the version-2 format.
func Write(path string, f File) error {
	b, err := Encode(f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Decode parses a cost file of version 2, 1 or 0.
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
	var v fileV
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return File{}, err
	}
	if dec.More() {
		return File{}, errors.New("data after the JSON object")
	}
	if v.Version != 1 && v.Version != Version {
		return File{}, fmt.Errorf("format version %d, this program reads versions 1 and %d (and unversioned files)", v.Version, Version)
	}
	if v.Unit != Unit {
		return File{}, fmt.Errorf("unit %q, want %q", v.Unit, Unit)
	}
	if v.Version == 1 && (v.LinkGbps != 0 || v.Runs != nil || hasV2Sites(v.Sites)) {
		return File{}, errors.New("version 1 with version-2 fields (link_gbit_s, runs, relu_bytes, degrees)")
	}
	f := File{Suite: v.Suite, LinkGbps: v.LinkGbps, Runs: v.Runs, Sites: v.Sites}
	return f, f.validate()
}

// hasV2Sites reports whether a site carries a field version 1 lacks.
func hasV2Sites(sites []Site) bool {
	for _, s := range sites {
		if s.ReLUBytes != 0 || s.Degrees != nil {
			return true
		}
	}
	return false
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

// validate checks what every version promises.
func (f File) validate() error {
	if len(f.Sites) == 0 {
		return errors.New("no sites")
	}
	if math.IsNaN(f.LinkGbps) || math.IsInf(f.LinkGbps, 0) || f.LinkGbps < 0 {
		return fmt.Errorf("link speed %g Gbit/s", f.LinkGbps)
	}
	seen := make(map[string]bool, len(f.Sites))
	for _, s := range f.Sites {
		switch {
		case s.Site == "":
			return errors.New("a site without a name")
		case seen[s.Site]:
			return fmt.Errorf("site %q listed twice", s.Site)
		case !validCost(s.Cost):
			return fmt.Errorf("site %q has cost %g, want a finite cost > 0", s.Site, s.Cost)
		}
		seen[s.Site] = true
		degs := map[int]bool{}
		for _, d := range s.Degrees {
			switch {
			case d.Degree < 1 || d.Degree > MaxDegree:
				return fmt.Errorf("site %q: degree %d outside 1..%d", s.Site, d.Degree, MaxDegree)
			case degs[d.Degree]:
				return fmt.Errorf("site %q: degree %d listed twice", s.Site, d.Degree)
			case !validCost(d.Cost):
				return fmt.Errorf("site %q degree %d has cost %g, want a finite cost > 0", s.Site, d.Degree, d.Cost)
			}
			degs[d.Degree] = true
		}
	}
	return nil
}

// MaxDegree bounds a Poly's degree (reduce.MaxDegree; this package uses
// the standard library only).
const MaxDegree = 6

func validCost(c float64) bool { return c > 0 && !math.IsInf(c, 0) }

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

// Weights returns the budget-loss weights of reduce.Config.CostWeights in
// the order of sites: each site's saving per replaced ReLU position for
// polynomials of the given degree (the degree the search replaces ReLUs
// with: AutoReP's, 1 for SNL's identity). A site that lists degrees must
// list this one; a site without (versions 0 and 1, or degree 0 asked) gives
// its Cost. Every site must be in f and every site of f in sites: a file
// measured on another architecture is an error.
func (f File) Weights(sites []string, degree int) ([]float64, error) {
	byName := make(map[string]*Site, len(f.Sites))
	for i := range f.Sites {
		byName[f.Sites[i].Site] = &f.Sites[i]
	}
	w := make([]float64, len(sites))
	for i, name := range sites {
		s, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("no cost for site %q", name)
		}
		c, err := s.costOf(degree)
		if err != nil {
			return nil, err
		}
		w[i] = c
		delete(byName, name)
	}
	for _, s := range f.Sites {
		if _, ok := byName[s.Site]; ok {
			return nil, fmt.Errorf("unknown site %q (not in the model)", s.Site)
		}
	}
	return w, nil
}

// costOf returns the site's saving for polynomials of the degree.
func (s *Site) costOf(degree int) (float64, error) {
	if degree == 0 || len(s.Degrees) == 0 {
		return s.Cost, nil
	}
	var have []int
	for _, d := range s.Degrees {
		if d.Degree == degree {
			return d.Cost, nil
		}
		have = append(have, d.Degree)
	}
	return 0, fmt.Errorf("site %q: no cost for degree %d (measured: %v)", s.Site, degree, have)
}
