package dealer

import (
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"strings"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/serve/secnet"
)

// FuzzParsePlan: arbitrary registrations are refused or decoded, never a
// panic.
func FuzzParsePlan(f *testing.F) {
	good, err := encodePlan([]corr.Request{{Kind: mpc.KindWeightMask, Label: "w", Linear: corr.DenseSpec(1, 2, 3)}},
		[]corr.Request{{Kind: fssgates.KindReLU, Label: "r", N: 4}}, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(tagPlan))
	f.Fuzz(func(t *testing.T, b []byte) {
		parsePlan(b, func(corr.Request) error { return nil })
	})
}

// TestPlan: after the server registers its plan, either party is served
// only the plan's requests, each at most as often as the plan grants; a
// request outside it, a second registration, a client's registration and
// (with RequirePlan) a request before any registration are refused, all
// without generating (issue 19, finding 2).
func TestPlan(t *testing.T) {
	lin := corr.DenseSpec(1, 8, 4)
	setup := []corr.Request{{Kind: mpc.KindWeightMask, Label: "fc", Linear: lin}}
	infer := []corr.Request{{Kind: mpc.KindLinear, Label: "fc", Linear: lin}, {Kind: fssgates.KindReLU, Label: "r", N: 4}}
	srv := &Server{RequirePlan: true, MaxRequestElems: 1 << 10}
	addr := serveTest(t, srv, secnet.Config{})
	sid := mustSID(t)
	p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := joinAt(t, addr, secnet.Config{}, mpc.Client, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p1.RegisterPlan(setup, infer, 2); err == nil {
		t.Error("a client provider registered a plan")
	}
	// Before the registration: refused (RequirePlan), nothing generated.
	early, err := joinAt(t, addr, secnet.Config{}, mpc.Server, mustSID(t), [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := early.Get(infer[1]); err == nil || !strings.Contains(err.Error(), "has not registered") {
		t.Errorf("request before any plan: %v", err)
	}
	// A plan with a request above the per-request bounds is refused.
	big, err := joinAt(t, addr, secnet.Config{}, mpc.Server, mustSID(t), [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if err := big.RegisterPlan(nil, []corr.Request{{Kind: mpc.KindTriple, Label: "t", N: 1 << 11}}, 1); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("plan with an oversized request: %v", err)
	}
	nothingGenerated(t, srv, map[string]int64{CausePlan: 2})

	if err := p0.RegisterPlan(setup, infer, 2); err != nil {
		t.Fatal(err)
	}
	if err := p0.RegisterPlan(setup, infer, 2); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second registration: %v", err)
	}
	// The second registration ended p0's connection: serve the plan to a
	// new session instead.
	sid = mustSID(t)
	p0, _ = joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	p1, _ = joinAt(t, addr, secnet.Config{}, mpc.Client, sid, [32]byte{}, Ticket{})
	if err := p0.RegisterPlan(setup, infer, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := p0.Get(setup[0]); err != nil { // once per session, server only
		t.Fatal(err)
	}
	for i := range 2 {
		for _, r := range infer {
			for _, p := range []*Remote{p0, p1} {
				if _, err := p.Get(r); err != nil {
					t.Fatalf("inference %d, %v %q: %v", i, r.Kind, r.Label, err)
				}
			}
		}
	}
	before := srv.Stats().Generated
	if _, err := p0.Get(setup[0]); err == nil || !strings.Contains(err.Error(), "more than the 1 times") {
		t.Errorf("second weight mask: %v", err)
	}
	if _, err := p1.Get(infer[1]); err == nil || !strings.Contains(err.Error(), "more than the 2 times") {
		t.Errorf("third inference's ReLU: %v", err)
	}
	for name, r := range map[string]corr.Request{
		"other shape": {Kind: fssgates.KindReLU, Label: "r", N: 5},
		"other label": {Kind: fssgates.KindReLU, Label: "q", N: 4},
	} {
		sid := mustSID(t)
		q0, _ := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
		q1, _ := joinAt(t, addr, secnet.Config{}, mpc.Client, sid, [32]byte{}, Ticket{})
		if err := q0.RegisterPlan(setup, infer, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := q1.Get(r); err == nil || !strings.Contains(err.Error(), ErrPlan.Error()) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st := srv.Stats(); st.Generated != before || st.Refused[CausePlan] != 2+1+2+2 {
		t.Errorf("after the refusals: generated %d (was %d), refused %v", st.Generated, before, st.Refused)
	}
}
