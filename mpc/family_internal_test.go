package mpc

import (
	"strings"
	"testing"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// TestSessionWithoutGates: a layer that needs comparison gates on a
// session without them (Session.Gates nil) is an error naming them,
// before any material is fetched or anything is sent.
func TestSessionWithoutGates(t *testing.T) {
	p0, _ := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{2}))
	c0, c1 := transport.Pipe()
	defer c0.Close()
	defer c1.Close()
	src := p0
	s, err := NewSession(Server, c0, 16)
	if err != nil {
		t.Fatal(err)
	}
	spec := corr.ActSpec{N: 1, C: 1, HW: 4, ReLU: corr.MaskOf([]bool{true, true, true, true})}
	_, err = s.Act(src, "a", nil, spec, make([]uint64, 4))
	if err == nil || !strings.Contains(err.Error(), "Session.Gates") {
		t.Errorf("Act without gates: %v", err)
	}
	_, err = s.MaxPool(src, "p", PoolSpec{N: 1, C: 1, H: 2, W: 2, K: 2, Stride: 2}, make([]uint64, 4))
	if err == nil || !strings.Contains(err.Error(), "Session.Gates") {
		t.Errorf("MaxPool without gates: %v", err)
	}
	if st := p0.Offline(); st.Items != 0 {
		t.Errorf("%d items of material fetched", st.Items)
	}
	if n := c0.Stats().Total(); n.BytesSent != 0 {
		t.Errorf("%d bytes sent", n.BytesSent)
	}
}
