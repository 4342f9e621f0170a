package pi

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// offlinePlan is a random-weight LeNet with mixed ReLU/polynomial
// activations in the PolyHE form at its MinWidths ℓ and prime width for
// x: the first two sites' polynomials are of degree 1 (C2 = 0), the others
// of degree 2. With fold the degree-1 sites are folded into their convs
// (Compile's default), else they run on the PolyHE path (one batch in the
// offline phase).
func offlinePlan(t *testing.T, x *tensor.Tensor, fold bool) *Plan {
	t.Helper()
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 61)
	installPoly(m, 0.5, 1, 62)
	for _, s := range m.Sites[:2] {
		for _, c := range s.Act.(*nn.PolyMask).Coef {
			c[2] = 0
		}
	}
	plan, err := Compile(m, Config{FracBits: 12, Poly: PolyHE, Trunc: TruncFaithful, NoFold: !fold})
	if err != nil {
		t.Fatal(err)
	}
	ell, pBits, err := plan.MinWidths(x)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = Compile(m, Config{FracBits: 12, Ell: ell, Poly: PolyHE, Trunc: TruncFaithful, PBits: pBits, NoFold: !fold}); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestTwoPartyOfflineSession: two requests in one session (two images,
// then one) of a PolyHE plan with degree-1 steps folded into their convs
// (mixed channels: stacked convolutions) and degree-2 steps: the logits
// stay within faithfulBound units of EvalFixed's with equal labels, so
// each request ran on its own fresh masks; every linear step's online
// traffic is exactly the client's masked share d, ℓ bits per input
// element in one message, at most one round (none when it extends the
// client's last burst) (the HE moved to the offline phase, which grows
// with the request's images); all precomputed material is consumed.
func TestTwoPartyOfflineSession(t *testing.T) {
	x2 := randomImages(63, 3, [3]int{1, 28, 28})
	plan := offlinePlan(t, x2, true)
	pub := plan.Public
	deg1, deg2 := 0, 0
	for i := range pub.Steps {
		if st := &pub.Steps[i]; st.Op == OpAct && st.ReLUs < st.Positions() {
			if st.Folded {
				deg1++
			} else {
				deg2++
			}
		}
	}
	if deg1 < 2 || deg2 == 0 {
		t.Fatalf("plan has %d folded degree-1 and %d degree-2 polynomial steps, want at least 2 and 1", deg1, deg2)
	}
	x1 := tensor.FromData(x2.Data[2*28*28:], 1, 1, 28, 28)
	x2 = tensor.FromData(x2.Data[:2*28*28], 2, 1, 28, 28)
	res := runTwoParty(t, plan, x2, x1)
	unit := math.Ldexp(1, -int(pub.Frac))
	for k, x := range []*tensor.Tensor{x2, x1} {
		want, err := plan.EvalFixed(x)
		if err != nil {
			t.Fatal(err)
		}
		got := res.logits[k]
		for j := range want.Data {
			if d := math.Abs(float64(got.Data[j]-want.Data[j])) / unit; d > faithfulBound {
				t.Fatalf("request %d: logit %d %v, EvalFixed %v (%.0f units)", k, j, got.Data[j], want.Data[j], d)
			}
		}
		n := x.Shape[0]
		for i := range n {
			if g, _ := argmax(got, i); g != argmaxOf(want, i) {
				t.Errorf("request %d, image %d: label %d, EvalFixed's %d", k, i, g, argmaxOf(want, i))
			}
		}
		st := res.stats[k]
		layer := map[string]LayerStats{}
		for _, l := range st.Layers {
			layer[l.Name] = l
		}
		for i := range pub.Steps {
			s := &pub.Steps[i]
			if s.Op != OpLinear {
				continue
			}
			l := layer[s.Name]
			if want := int64(rq.SegBytes(s.Conv.Params(n).XLen(), uint(pub.Ell))); l.Bytes != want || l.Rounds > 1 {
				t.Errorf("request %d, %s: online %d B in %d rounds, want d only: %d B in one message", k, s.Name, l.Bytes, l.Rounds, want)
			}
		}
	}
	if a, b := res.stats[0].OfflineMsgs.Bytes(), res.stats[1].OfflineMsgs.Bytes(); a <= b || b <= res.stats[1].Online.Bytes()/4 {
		t.Errorf("offline bytes %d (2 images), %d (1 image; online %d): the HE work is not in the offline phase", a, b, res.stats[1].Online.Bytes())
	}
	if left := len(res.client.tp.pre); left != 0 {
		t.Errorf("%d precomputed steps left unused after the requests", left)
	}
}

// TestTwoPartyMaskSingleUse: a precomputed linear step and a PolyHE step
// serve once; a second use errors on both sides before any traffic.
func TestTwoPartyMaskSingleUse(t *testing.T) {
	x := randomImages(64, 1, [3]int{1, 28, 28})
	plan := offlinePlan(t, x, false)
	pub := plan.Public
	bs, bc := precomputedPair(t, plan, 1, false)
	done := make(chan error, 1)
	lin, act := -1, -1
	for i := range pub.Steps {
		st := &pub.Steps[i]
		if st.Op == OpLinear && lin < 0 {
			lin = i
		}
		if st.Op == OpAct && st.ReLUs < st.Positions() && act < 0 {
			act = i
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mask := ^uint64(0) >> (64 - pub.Ell)
	shares := func(k int) []uint64 {
		v := make([]uint64, k)
		for j := range v {
			v[j] = rng.Uint64() & mask
		}
		return v
	}
	both := func(f func(b *twoPartyBackend) error) (errS, errC error) {
		go func() { done <- f(bc) }()
		errS = f(bs)
		return errS, <-done
	}
	stl := &pub.Steps[lin]
	xl := [2][]uint64{shares(stl.Conv.Params(1).XLen()), shares(stl.Conv.Params(1).XLen())}
	sta := &pub.Steps[act]
	_, idx := bs.acts[act].batch(1)
	za := [2][]uint64{shares(len(idx)), shares(len(idx))}
	for use := range 2 {
		errS, errC := both(func(b *twoPartyBackend) error {
			_, err := b.linear(lin, stl, 1, xl[b.party])
			return err
		})
		if (use == 0) != (errS == nil && errC == nil) {
			t.Fatalf("use %d of %s's masks: server %v, client %v", use, stl.Name, errS, errC)
		}
		errS, errC = both(func(b *twoPartyBackend) error {
			_, err := b.polyHE(act, sta, za[b.party], idx)
			return err
		})
		if (use == 0) != (errS == nil && errC == nil) {
			t.Fatalf("use %d of %s's masks: server %v, client %v", use, sta.Name, errS, errC)
		}
		if use == 1 && !strings.Contains(errC.Error(), "no precomputed material") {
			t.Errorf("second use: %v", errC)
		}
	}
}

// precomputedPair returns the server's and the client's backend of plan
// on a pipe after the offline phase of n images (degree-2 steps per step
// if perStep).
func precomputedPair(t *testing.T, plan *Plan, n int, perStep bool) (bs, bc *twoPartyBackend) {
	t.Helper()
	c0, c1 := transport.Pipe()
	t.Cleanup(func() { c0.Close(); c1.Close() })
	done := make(chan error, 1)
	go func() {
		var err error
		if bc, err = newTwoPartyBackend(c1, plan.Public, nil, tpClient); err == nil {
			bc.deg2PerStep = perStep
			err = bc.precompute(n)
		}
		done <- err
	}()
	bs, err := newTwoPartyBackend(c0, plan.Public, plan.Secret, tpServer)
	if err == nil {
		bs.deg2PerStep = perStep
		err = bs.precompute(n)
	}
	if err := errors.Join(err, <-done); err != nil {
		t.Fatal(err)
	}
	return bs, bc
}

// TestTwoPartyPolyBatches: the degree-1 PolyHE steps share one hesimd
// batch in the offline phase, and so do the degree-2 steps when
// Degree2Bytes prices the batch lower (else each has its own
// PrecomputeQuad); a batch's traffic, as each party's connection counts it
// under its label, is attributed to its steps in proportion to their
// positions, the parts summing to it exactly, and every step gets its own
// mask. Requests of 1 and 3 images, the second with the per-step form
// forced (the test plan's steps are too small to choose it).
func TestTwoPartyPolyBatches(t *testing.T) {
	x := randomImages(66, 2, [3]int{1, 28, 28})
	plan := offlinePlan(t, x, false)
	var forms []bool
	for _, n := range []int{1, 3} {
		bs, bc := precomputedPair(t, plan, n, n == 3)
		for deg := 1; deg <= 2; deg++ {
			var steps []int
			for i := range plan.Public.Steps {
				if st := &plan.Public.Steps[i]; st.Op == OpAct && st.ReLUs < st.Positions() && (st.PolyDeg == 1) == (deg == 1) {
					steps = append(steps, i)
				}
			}
			sizes := polySizes(plan.Public, steps, n)
			perStep, batched := bs.hp.Degree2Bytes(sizes)
			isBatch := deg == 1 || (batched <= perStep && !bs.deg2PerStep)
			if deg == 2 {
				forms = append(forms, isBatch)
			}
			for _, b := range []*twoPartyBackend{bs, bc} {
				var layer int64 = -1
				for _, l := range b.conn.Stats().Snapshot().Layers {
					if l.Layer == batchLayer(deg) {
						layer = l.Bytes()
					}
				}
				var got int64
				for _, i := range steps {
					got += b.preBytes[i]
					if b.pre[i] == nil {
						t.Errorf("n %d, party %d, %s: no mask", n, b.party, plan.Public.Steps[i].Name)
					}
				}
				if !isBatch {
					if layer != -1 || got != 0 {
						t.Errorf("n %d, party %d: degree-2 steps per step, but a batch of %d B with %d B attributed", n, b.party, layer, got)
					}
					continue
				}
				if len(steps) < 2 || layer <= 0 || got != layer {
					t.Fatalf("n %d, party %d, degree %d: %d steps attributed %d B of a batch of %d B", n, b.party, deg, len(steps), got, layer)
				}
				if deg == 2 {
					// Degree2Bytes' batch is this offline traffic plus d and e
					// online, ⌈log2 P⌉ bits each per position.
					w := uint(bits.Len64(bs.hp.P()))
					online := 0
					for _, k := range sizes {
						online += 2 * rq.SegBytes(k, w)
					}
					if layer+int64(online) != int64(batched) {
						t.Errorf("n %d: degree-2 batch offline %d B + online %d B, Degree2Bytes %d", n, layer, online, batched)
					}
				}
				W := sum(sizes)
				for k, i := range steps {
					if exact := float64(layer) * float64(sizes[k]) / float64(W); math.Abs(float64(b.preBytes[i])-exact) >= 1 {
						t.Errorf("n %d, party %d, step %d: %d B attributed, %.2f in proportion", n, b.party, i, b.preBytes[i], exact)
					}
				}
			}
		}
	}
	if len(forms) != 2 || !forms[0] || forms[1] {
		t.Errorf("degree-2 batch chosen at 1 and 3 images: %v; want the batch, then the forced per-step form", forms)
	}
}

// TestSplitBytes: the proportional split is exact in integers, sums to
// the total and stays within one byte of the real proportion.
func TestSplitBytes(t *testing.T) {
	for _, c := range []struct {
		total int64
		w     []int
		want  []int64
	}{
		{10, []int{1, 1, 1}, []int64{4, 3, 3}},
		{5, []int{1, 2}, []int64{2, 3}},
		{100, []int{3, 0, 7}, []int64{30, 0, 70}},
		{7, []int{0, 0}, []int64{7, 0}},
		{0, []int{5, 6}, []int64{0, 0}},
		{3, nil, []int64{}},
	} {
		if got := splitBytes(c.total, c.w); !slices.Equal(got, c.want) {
			t.Errorf("splitBytes(%d, %v) = %v, want %v", c.total, c.w, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		w := make([]int, 1+rng.IntN(30))
		for k := range w {
			w[k] = rng.IntN(400_000)
		}
		total := rng.Int64N(1 << 34)
		got := splitBytes(total, w)
		var s int64
		for k, v := range got {
			s += v
			if exact := float64(total) * float64(w[k]) / float64(max(sum(w), 1)); sum(w) > 0 && math.Abs(float64(v)-exact) >= 1 {
				t.Fatalf("splitBytes(%d, %v)[%d] = %d, proportion %.2f", total, w, k, v, exact)
			}
		}
		if s != total {
			t.Fatalf("splitBytes(%d, %v) sums to %d", total, w, s)
		}
	}
}

// TestTwoPartyOfflineDisconnect: a client, then a server, that closes its
// connection during the offline phase (the precomputation of the first
// step) makes both parties return an error, the server's naming the
// offline phase, instead of hanging.
func TestTwoPartyOfflineDisconnect(t *testing.T) {
	x := randomImages(65, 1, [3]int{1, 28, 28})
	plan := offlinePlan(t, x, true)
	first := plan.Public.Steps[0].Name
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, side := range []string{"client", "server"} {
		p0, p1 := transport.Pipe()
		var c0, c1 transport.Conn = p0, p1
		// The victim closes as it first sends or receives in the first
		// step's precomputation (a polling watcher could miss that window
		// on a loaded machine, and the request would then succeed).
		if side == "server" {
			c0 = &closeAt{Conn: p0, layer: first}
		} else {
			c1 = &closeAt{Conn: p1, layer: first}
		}
		done := make(chan error, 1)
		go func() { done <- (&Server{Plan: plan, Suite: SuiteTwoParty}).Run(ctx, c0) }()
		cerr := make(chan error, 1)
		go func() {
			_, _, err := (&Client{Public: plan.Public, Suite: SuiteTwoParty}).Infer(ctx, c1, x)
			cerr <- err
		}()
		for who, ch := range map[string]chan error{"server": done, "client": cerr} {
			select {
			case err := <-ch:
				if err == nil {
					t.Errorf("%s closed during the offline phase: the %s returned nil", side, who)
				} else if who == "server" && !strings.Contains(err.Error(), "offline") {
					t.Errorf("%s closed during the offline phase: server error %v does not name it", side, err)
				} else {
					t.Logf("%s closed: %s: %v", side, who, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s closed during the offline phase: the %s hangs", side, who)
			}
		}
		c0.Close()
		c1.Close()
	}
}

// closeAt is a connection that closes itself when it first sends or
// receives in the offline phase under the layer label layer.
type closeAt struct {
	transport.Conn
	layer string
	once  sync.Once
}

func (c *closeAt) check() {
	if s := c.Stats(); s.Phase() == transport.PhaseOffline && s.Layer() == c.layer {
		c.once.Do(func() { c.Conn.Close() })
	}
}

func (c *closeAt) Send(b []byte) error {
	c.check()
	return c.Conn.Send(b)
}

func (c *closeAt) Recv() ([]byte, error) {
	c.check()
	return c.Conn.Recv()
}
