package fssgates_test

import (
	"bytes"
	"testing"

	"github.com/autorep/autorep/internal/bufpool"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// TestRecycledKeyMemory: key material generated into recycled buffers of
// arbitrary content (the pool the dealer's released material goes to) is
// byte for byte the material generated into fresh memory, for every FSS
// kind: generation writes every word, so recycled memory needs no
// clearing. The recycled buffers are filled with 0xA5 first and must be
// taken from the pool.
func TestRecycledKeyMemory(t *testing.T) {
	d := dealer.NewGenerator(ring.Seed{4})
	const n = 1 << 12 // megabytes of keys per party: pooled sizes
	for _, req := range []corr.Request{
		fssgates.GateRequest(fssgates.KindReLU, "r", n, 0, 0),
		fssgates.GateRequest(fssgates.KindReLU, "r37", n, 0, 37),
		fssgates.GateRequest(fssgates.KindDReLU, "d", n, 0, 0),
		fssgates.GateRequest(fssgates.KindTrunc, "t", n, 12, 0),
		fssgates.ReLUTruncRequest("rt", n, 16, 0),
	} {
		a0, a1, err := d.Generate(req, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := [2][]byte{marshal(t, a0), marshal(t, a1)}
		// Both parties' key blobs, as garbage-filled pool buffers.
		keyWords := (a0.Keys.EncodedLen() - 16) / 8
		a0.Release()
		a1.Release()
		for { // take the released keys' buffers out of the pool
			p := bufpool.Pooled()
			bufpool.GetWords(int(keyWords))
			if bufpool.Pooled() == p {
				break
			}
		}
		for range 2 {
			b := bytes.Repeat([]byte{0xA5}, int(8*keyWords))
			bufpool.PutBuffer(b)
		}
		pooled := bufpool.Pooled()
		b0, b1, err := d.Generate(req, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got := bufpool.Pooled(); got > pooled-int(16*keyWords) {
			t.Errorf("%v %q: the generation took %d bytes from the pool, want both key blobs (%d)", req.Kind, req.Label, pooled-got, 16*keyWords)
		}
		for i, m := range []*corr.Material{b0, b1} {
			if !bytes.Equal(marshal(t, m), want[i]) {
				t.Errorf("%v %q: party %d's material from recycled memory differs", req.Kind, req.Label, i)
			}
		}
		b0.Release()
		b1.Release()
	}
}

func marshal(t *testing.T, m *corr.Material) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
