package pi

import (
	"testing"

	"github.com/autorep/autorep/transport"
)

// TestTwoPartyTriplesAhead: in every polynomial form and truncation mode
// (and with a top-k output), the twoparty suite's bit triples are made in
// the offline phase: the online phase sends no offline traffic, every
// step's gates use exactly the triples tripleCounts made for it (else
// the request fails), the triples' bytes are credited to the steps with
// comparisons in proportion to their counts, and each party's per-step
// offline bytes plus the client's request row sum to its offline
// traffic exactly.
func TestTwoPartyTriplesAhead(t *testing.T) {
	x := randomImages(23, 2, [3]int{1, 28, 28})
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 21)
	installPoly(m, 0.5, 1, 22)
	plan := func(cfg Config, topK int) *Plan {
		p, err := Compile(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ell, pBits, err := p.MinWidths(x)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Ell = ell
		if cfg.Poly == PolyHE {
			cfg.PBits = pBits
		}
		if p, err = Compile(m, cfg); err != nil {
			t.Fatal(err)
		}
		p.Public.TopK = topK
		if err := p.Public.Validate(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		plan *Plan
	}{
		{"wide exact", plan(Config{FracBits: 8, Suite: SuiteTwoParty}, 0)},
		{"narrow exact", plan(Config{FracBits: 8, Poly: PolyNarrow}, 0)},
		{"narrow exact, label", plan(Config{FracBits: 8, Poly: PolyNarrow}, 1)},
		{"he faithful", plan(Config{FracBits: 12, Poly: PolyHE, Trunc: TruncFaithful}, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			pub := c.plan.Public
			c0, c1 := transport.Pipe()
			res := runSuiteOn(t, c.plan, SuiteTwoParty, c0, c1, x)
			if pub.Trunc == "" && pub.TopK == 0 {
				want, err := c.plan.EvalFixed(x)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want.Data {
					if res.logits[0].Data[i] != want.Data[i] {
						t.Fatalf("logit %d: %v, EvalFixed %v", i, res.logits[0].Data[i], want.Data[i])
					}
				}
			}
			counts, err := tripleCounts(pub, 2)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, k := range counts {
				total += k
			}
			if total == 0 || pub.TopK > 0 && counts[len(pub.Steps)] == 0 {
				t.Fatalf("no triples counted: %v", counts)
			}
			var triples int64 // the client's triple traffic, by its label
			for _, l := range c1.Stats().Snapshot().Layers {
				if l.Layer == tripleLayer {
					triples += l.Counts.Bytes()
				}
			}
			if triples == 0 {
				t.Fatal("no traffic labelled with the triples")
			}
			share := splitBytes(triples, counts)
			// The COTs made ahead (twoparty_ots.go) are the steps'
			// offline bytes too, split by their COT counts.
			cc, err := cotCounts(pub, 2)
			if err != nil {
				t.Fatal(err)
			}
			var cots int64
			for _, l := range c1.Stats().Snapshot().Layers {
				if l.Layer == cotLayer {
					cots += l.Counts.Bytes()
				}
			}
			for k, b := range splitBytes(cots, res.client.tp.cotWeights(cc)) {
				share[k] += b
			}
			for party, st := range map[string]Stats{"client": res.stats[0], "server": res.server[0]} {
				if st.OfflineInline.Bytes() != 0 || st.OfflineInline.Rounds != 0 {
					t.Errorf("%s: %d B in %d rounds of offline traffic in the online phase", party, st.OfflineInline.Bytes(), st.OfflineInline.Rounds)
				}
				var on, off int64
				for j, l := range st.Layers {
					on += l.Bytes
					off += l.OfflineBytes
					if l.Name == "request" && (j != 0 || party != "client" || l.OfflineBytes != requestBytes) {
						t.Errorf("%s: row %d %+v, want the client's first row with its %d-byte request", party, j, l, requestBytes)
					}
				}
				if on != st.Online.Bytes() || off != st.OfflineMsgs.Bytes() {
					t.Errorf("%s: rows sum to %d B online, %d B offline; totals %d, %d", party, on, off, st.Online.Bytes(), st.OfflineMsgs.Bytes())
				}
				// A step with comparisons and no HE of its own has its
				// triples' and COTs' shares alone offline.
				for _, l := range st.Layers {
					i := stepIndex(pub, l.Name)
					if l.Name == "argmax" {
						i = len(pub.Steps)
					}
					if i < 0 || counts[i] == 0 {
						continue
					}
					he := i < len(pub.Steps) && pub.Steps[i].Op == OpAct && pub.Poly == PolyHE && pub.Steps[i].ReLUs < pub.Steps[i].Positions()
					if !he && l.OfflineBytes != share[i] || he && l.OfflineBytes < share[i] {
						t.Errorf("%s, %s: %d offline bytes, its triples' and COTs' share %d", party, l.Name, l.OfflineBytes, share[i])
					}
				}
			}
			if left := len(res.client.tp.tri); left != 0 {
				t.Errorf("%d stores of triples left after the request", left)
			}
		})
	}
}

// stepIndex returns the index of the step named name, or −1.
func stepIndex(pub *Public, name string) int {
	for i := range pub.Steps {
		if pub.Steps[i].Name == name {
			return i
		}
	}
	return -1
}

// TestPrepareTriples: a prepare makes the request's triples ahead; its
// statistics credit them to the steps, its rows summing to its offline
// traffic, and the prepared request's online phase sends no offline
// traffic.
func TestPrepareTriples(t *testing.T) {
	x := randomImages(23, 2, [3]int{1, 28, 28})
	plan := preparePlan(t, x)
	s := newPrepareSession(t, plan, SuiteTwoParty, 0)
	ps, err := s.cl.Prepare(s.ctx, s.c1, 2)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := tripleCounts(plan.Public, 2)
	if err != nil {
		t.Fatal(err)
	}
	var off, stepOff int64
	for _, l := range ps.Layers {
		off += l.OfflineBytes
		if i := stepIndex(plan.Public, l.Name); i >= 0 {
			if counts[i] > 0 && l.OfflineBytes == 0 {
				t.Errorf("step %s: %d triples, no offline bytes", l.Name, counts[i])
			}
			stepOff += l.OfflineBytes
		}
	}
	if off != ps.OfflineMsgs.Bytes() || stepOff == 0 || stepOff >= off {
		t.Errorf("prepare: rows sum to %d B (steps %d), offline %d B", off, stepOff, ps.OfflineMsgs.Bytes())
	}
	st := s.run(plan, x)
	if !st.Prepared || st.OfflineInline.Bytes() != 0 || st.OfflineMsgs.Bytes() != requestBytes {
		t.Errorf("prepared request: prepared %v, %d B offline inline, %d B offline", st.Prepared, st.OfflineInline.Bytes(), st.OfflineMsgs.Bytes())
	}
	if len(st.Layers) == 0 || st.Layers[0].Name != "request" || st.Layers[0].OfflineBytes != requestBytes {
		t.Errorf("prepared request: first row %+v", st.Layers[:1])
	}
	s.close()
}
