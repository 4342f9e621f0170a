package pi

import (
	"strings"
	"testing"

	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// TestWithCOTs: a step whose gates take other than its count of the COTs
// made ahead fails on both parties (withCOTs), one that takes its count
// passes, and the top-k's check (cotsDone) fails while COTs are left and
// frees the pool either way.
func TestWithCOTs(t *testing.T) {
	c0, c1 := transport.Pipe()
	var gates [2]*otgates.Party
	errs := make(chan error, 2)
	for d, c := range []transport.Conn{c0, c1} {
		go func() { var err error; gates[d], err = otgates.New(c, d); errs <- err }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	st := &Step{Name: "act"}
	both := func(f func(d int, b *twoPartyBackend) error) {
		t.Helper()
		for d := range 2 {
			go func() {
				errs <- f(d, &twoPartyBackend{gates: gates[d], cots: []otgates.COTs{otgates.SelectCOTs(n), otgates.SelectCOTs(n - 1)}})
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	selectStep := func(b *twoPartyBackend, i int) error {
		_, err := b.withCOTs(i, st, func() ([]uint64, error) { return b.gates.Select(make([]uint8, n), make([]uint64, n), 32) })
		return err
	}
	both(func(d int, b *twoPartyBackend) error {
		if err := b.gates.MakeCOTs(otgates.SelectCOTs(n).Add(otgates.SelectCOTs(n)).Add(otgates.SelectCOTs(1))); err != nil {
			return err
		}
		if err := selectStep(b, 0); err != nil {
			return err
		}
		if err := selectStep(b, 1); err == nil || !strings.Contains(err.Error(), "cotCounts and the gates disagree") {
			t.Errorf("party %d: a step taking more than its count: %v", d, err)
		}
		if err := b.cotsDone(); err == nil || !strings.Contains(err.Error(), "left") {
			t.Errorf("party %d: COTs left after the top-k: %v", d, err)
		}
		if l := b.gates.COTsLeft(); l.Total() != 0 || b.cots != nil {
			t.Errorf("party %d: %v left after cotsDone", d, l)
		}
		return nil
	})
	b := &twoPartyBackend{gates: gates[0]}
	if _, err := b.withCOTs(0, st, nil); err == nil || !strings.Contains(err.Error(), "offline phase did not run") {
		t.Errorf("a step without counts: %v", err)
	}
}
