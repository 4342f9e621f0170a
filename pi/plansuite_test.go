package pi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// hashWithoutSuite is the hash pub had before the plan named its suite:
// the same canonical JSON without the "suite" field.
func hashWithoutSuite(t *testing.T, pub *Public) string {
	t.Helper()
	if pub.Poly == PolyHE {
		p := *pub
		p.Poly = "he" // the form's name before session 14's message schedule
		pub = &p
	}
	b, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	field := []byte(`,"suite":"` + pub.Suite + `"`)
	if bytes.Count(b, field) != 1 {
		t.Fatalf("public plan JSON without one %s", field)
	}
	return fmt.Sprintf("%x", sha256.Sum256(bytes.Replace(b, field, nil, 1)))
}

// TestPlanSuiteHash: the suite a plan is compiled for is in the public
// plan and its hash: the committed LeNet-5 models' plans differ between
// the suites, and each is, but for the added field, the plan of the code
// before the suite was recorded (hashes computed at commit d0bc2df with
// Config.ForSuite; the PolyHE form's name as it was then). The suite follows the forms when Config.Suite is
// empty, and a dealer plan of another form is refused.
func TestPlanSuiteHash(t *testing.T) {
	before := map[string]map[string]string{
		"lenet-mnist.safetensors": {
			SuiteDealer:   "1269e9f4d9a3d781c482bc22234b10d0f7f08120385ecf3dd1d9a69041412752",
			SuiteTwoParty: "18909c999005e3644752633f3e059b44af63c6de0418ea5c0b9063d0e4bd14b2",
		},
		"lenet-mnist-autorep10.safetensors": {
			SuiteDealer:   "ced1d055b6095cdcc632c07b5e0dfd9b0ee23a2035da9f386b1296227688cc99",
			SuiteTwoParty: "25b483e106f5de8b8e8de28729881e3b6ff467dadb29c4c8b949e0e7e4cf448f",
		},
	}
	for name, pins := range before {
		m := loadCommitted(t, name)
		hashes := map[string][32]byte{}
		for _, suite := range []string{SuiteDealer, SuiteTwoParty} {
			cfg, err := Config{}.ForSuite(suite, "")
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compile(m, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Public.Suite != suite {
				t.Errorf("%s: plan for %s names suite %q", name, suite, plan.Public.Suite)
			}
			if h := hashWithoutSuite(t, plan.Public); h != pins[suite] {
				t.Errorf("%s, %s: hash without the suite %s, before %s", name, suite, h, pins[suite])
			}
			hashes[suite] = plan.PublicHash()
		}
		if hashes[SuiteDealer] == hashes[SuiteTwoParty] {
			t.Errorf("%s: the dealer and twoparty plans hash alike", name)
		}
	}

	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	for _, c := range []struct {
		cfg  Config
		want string // the plan's suite, or a substring of the error
	}{
		{Config{}, SuiteDealer},
		{Config{Suite: SuiteTwoParty}, SuiteTwoParty},
		{Config{Poly: PolyNarrow}, SuiteTwoParty},
		{Config{Trunc: TruncFaithful}, SuiteTwoParty},
		{Config{Suite: SuiteDealer, Poly: PolyNarrow}, "the dealer suite computes the default"},
		{Config{Suite: SuiteDealer, Trunc: TruncFaithful}, "the dealer suite computes the default"},
		{Config{Suite: "fss"}, `unknown suite "fss"`},
	} {
		p, err := Compile(m, c.cfg)
		switch {
		case err == nil && p.Public.Suite != c.want:
			t.Errorf("%+v: plan for suite %q, want %s", c.cfg, p.Public.Suite, c.want)
		case err != nil && !strings.Contains(err.Error(), c.want):
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	// A decoded plan must name a suite its forms fit.
	p, err := Compile(m, Config{Poly: PolyNarrow})
	if err != nil {
		t.Fatal(err)
	}
	for _, suite := range []string{"", SuiteDealer, "fss"} {
		q := *p.Public
		q.Suite = suite
		if err := q.Validate(); err == nil {
			t.Errorf("a narrow-form plan for suite %q validates", suite)
		}
	}
}
