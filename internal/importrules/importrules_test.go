package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/autorep/autorep/"

// rule: package pkg (and every package under it unless exact) must not
// depend, directly or indirectly, on any package of banned: "p" is the
// package p, "p/..." is p and every package under it.
type rule struct {
	pkg    string
	exact  bool
	banned []string
	why    string
}

// arithmetic are the packages of share arithmetic and protocols.
var arithmetic = []string{"tensor", "kernel/...", "ring/...", "fss/...", "ot/...", "otgates/...", "helinear/...", "hesimd/...", "internal/rq", "mpc/...", "pi/..."}

var rules = []rule{
	{pkg: "transport", banned: arithmetic, why: "the transport moves bytes and imports no arithmetic"},
	{pkg: "internal/bufpool", banned: append(slices.Clone(arithmetic), "transport"), why: "the buffer pool sits below transport and arithmetic"},
	{pkg: "fss", banned: []string{"mpc/...", "ot/...", "otgates/...", "helinear/...", "hesimd/...", "pi/...", "serve/..."}, why: "the FSS family imports neither the core, another family, nor anything above"},
	{pkg: "ot", banned: []string{"mpc/...", "fss/...", "helinear/...", "hesimd/...", "pi/...", "serve/..."}, why: "the OT family imports neither the core, another family, nor anything above"},
	{pkg: "otgates", banned: []string{"mpc/...", "fss/...", "helinear/...", "hesimd/...", "pi/...", "serve/..."}, why: "the OT family imports neither the core, another family, nor anything above"},
	{pkg: "helinear", banned: []string{"mpc/...", "fss/...", "ot/...", "otgates/...", "hesimd/...", "pi/...", "serve/..."}, why: "the HE family imports neither the core, another family, nor anything above"},
	{pkg: "hesimd", banned: []string{"mpc/...", "fss/...", "ot/...", "otgates/...", "helinear/...", "pi/...", "serve/..."}, why: "the HE family imports neither the core, another family, nor anything above"},
	{pkg: "internal/rq", banned: []string{"mpc/...", "fss/...", "ot/...", "otgates/...", "helinear/...", "hesimd/...", "pi/...", "serve/...", "transport"}, why: "the shared R_q helpers sit below both HE packages"},
	{pkg: "mpc/fssgates", banned: []string{"ot/...", "otgates/...", "helinear/...", "hesimd/...", "mpc/dealer", "pi/...", "serve/..."}, why: "the FSS gates import neither another family, a source, nor anything above"},
	{pkg: "mpc/corr", banned: []string{"mpc", "mpc/fssgates", "fss/...", "ot/...", "otgates/...", "helinear/...", "hesimd/...", "pi/...", "serve/..."}, why: "the correlations contract imports neither the core, a protocol family, a source, nor anything above"},
	{pkg: "mpc/dealer", banned: []string{"mpc", "mpc/fssgates", "fss/...", "ot/...", "otgates/...", "helinear/...", "hesimd/...", "pi/...", "serve/..."}, why: "the in-process dealer (generator, pairing) imports the correlations contract only: no core, no family, nothing above"},
	{pkg: "mpc", exact: true, banned: []string{"fss/...", "mpc/fssgates", "mpc/dealer", "ot/...", "otgates/...", "helinear/...", "hesimd/...", "pi/...", "serve/..."}, why: "the core imports no protocol family and nothing above it"},
	{pkg: "serve/dealer", banned: []string{"pi/...", "serve"}, why: "a correlations source imports neither pi nor the service"},
	{pkg: "pi", banned: []string{"serve/..."}, why: "pi is below the service"},
}

type listed struct {
	ImportPath string
	Deps       []string
}

// TestImportRules checks every rule over `go list -deps -json` of the
// module's packages.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command("go", "list", "-e", "-json", module+"...") // -e: a package that fails to load still lists its deps
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs, err := decode(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		for _, r := range rules {
			if !(rel == r.pkg || (!r.exact && strings.HasPrefix(rel, r.pkg+"/"))) {
				continue
			}
			seen[r.pkg] = true
			for _, d := range p.Deps {
				drel, ok := strings.CutPrefix(d, module)
				if !ok {
					continue
				}
				for _, b := range r.banned {
					if matches(b, drel) {
						t.Errorf("%s depends on %s: %s", rel, drel, r.why)
					}
				}
			}
		}
	}
	for _, r := range rules {
		if !seen[r.pkg] {
			t.Errorf("rule for %s matches no package (renamed?)", r.pkg)
		}
	}
}

// matches reports whether package rel is in pattern ("p" or "p/...").
func matches(pattern, rel string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == p || strings.HasPrefix(rel, p+"/")
	}
	return rel == pattern
}

// decode reads the concatenated JSON objects go list prints.
func decode(b []byte) ([]listed, error) {
	var out []listed
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

// The checker itself: a dependency on a banned package's subpackage is
// caught, a similarly named sibling is not.
func TestRuleMatching(t *testing.T) {
	for _, c := range []struct {
		pattern, rel string
		want         bool
	}{
		{"serve", "serve", true}, {"serve", "serve/secnet", false},
		{"mpc/...", "mpc", true}, {"mpc/...", "mpc/corr", true}, {"mpc/...", "mpcx", false},
		{"ring/...", "ringbuf", false},
	} {
		if got := matches(c.pattern, c.rel); got != c.want {
			t.Errorf("matches(%q, %q) = %v", c.pattern, c.rel, got)
		}
	}
	if _, err := decode([]byte(`{"ImportPath": "x", "Deps": ["y"]} {`)); err == nil {
		t.Error("truncated go list output accepted")
	}
	ps, err := decode([]byte(`{"ImportPath": "a"} {"ImportPath": "b", "Deps": ["c"]}`))
	if err != nil || len(ps) != 2 || ps[1].Deps[0] != "c" {
		t.Fatalf("decode: %v %+v", err, ps)
	}
}
