package ot

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Each target runs one receiving step of a protocol against a peer that
// sends data instead of the real message. The step must return (an error
// for a wrong message) without panicking; the short read timeout turns a
// step that waited for a message nobody sends into a test failure.
var fuzzState struct {
	once sync.Once
	s    *Sender
	r    *Receiver
	ns   *NSender
	nr   *NReceiver
	ss   *Sender   // SoftSpoken (DefaultConfig)
	cr   *Receiver // its peer's receiver, for 1-of-N from COTs
	err  error
}

// fuzzObjects sets up the objects under test once (the base OTs are the
// expensive part). After a failed step their two sides are out of step,
// which the targets do not care about: they test the checks, not the
// results.
func fuzzObjects(t testing.TB) {
	fuzzState.once.Do(func() {
		s0, s1, _, _ := sessions(t)
		fuzzState.s, fuzzState.r = s0.Send, s1.Recv
		fuzzState.ns, fuzzState.nr = s0.NSend, s1.NRecv
		d0, d1, _, _ := sessionsCfg(t, DefaultConfig)
		fuzzState.ss, fuzzState.cr = d0.Send, d1.Recv
	})
}

// step runs f with its object's connection replaced by a fresh pipe end
// whose peer has queued data, then drains what f sent.
func step(t *testing.T, data []byte, f func(c transport.Conn) error) {
	a, b := transport.PipeOptions(transport.Options{ReadTimeout: 2 * time.Second})
	if err := b.Send(data); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f(a) }()
	select {
	case err := <-done:
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("step hung")
	}
}

func FuzzMessages(f *testing.F) {
	for sel := range uint8(11) {
		for _, n := range []uint16{1, 130} {
			f.Add(sel, n, []byte{})
			f.Add(sel, n, make([]byte, 31))
			f.Add(sel, n, make([]byte, 32))
			f.Add(sel, n, make([]byte, Kappa*padded(int(n))*8-1))
			f.Add(sel, n, make([]byte, Kappa*padded(int(n))*8))
			f.Add(sel, n, make([]byte, 2*KKWidth*padded(int(n))*8))
			f.Add(sel, n, make([]byte, 2*int(n)*16/8))
			f.Add(sel, n, make([]byte, 16*padded(int(n))*8))
			f.Add(sel, n, make([]byte, int(n)*16*2/8))
			f.Add(sel, n, make([]byte, 32*Kappa))
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, n16 uint16, data []byte) {
		fuzzObjects(t)
		n := 1 + int(n16)%300
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		choice := randBits(rng, n)
		st := &fuzzState
		switch sel % 11 {
		case 0: // base receiver: data is A
			step(t, data, func(c transport.Conn) error { _, err := BaseReceive(c, choice); return err })
		case 1: // base sender: data is the B's
			step(t, data, func(c transport.Conn) error { _, err := BaseSend(c, n); return err })
		case 2: // extension sender: data is the matrix
			step(t, data, func(c transport.Conn) error {
				s := *st.s
				s.c = c
				_, err := s.COT(n)
				return err
			})
		case 3: // chosen-message receiver: data is the masked messages
			step(t, data, func(c transport.Conn) error {
				r := *st.r
				r.c = c
				_, err := r.Receive(choice, 16)
				return err
			})
		case 4: // correlated receiver
			step(t, data, func(c transport.Conn) error {
				r := *st.r
				r.c = c
				_, err := r.ReceiveCorrelated(choice, 37)
				return err
			})
		case 5: // 1-of-N sender: data is the matrix
			step(t, data, func(c transport.Conn) error {
				s := *st.ns
				s.c = c
				return s.Send(make([]uint64, n*16), 16, 2)
			})
		case 6: // 1-of-N receiver: data is the masked messages
			step(t, data, func(c transport.Conn) error {
				r := *st.nr
				r.c = c
				ch := make([]uint8, n)
				_, err := r.Receive(ch, 16, 2)
				return err
			})
		case 7: // SoftSpoken extension sender: data is the correction
			step(t, data, func(c transport.Conn) error {
				s := *st.ss
				s.c = c
				_, err := s.COT(n)
				return err
			})
		case 8: // 1-of-N-from-COT receiver: data is the masked messages
			// (its COT matrix goes to a peer that does not read it).
			step(t, data, func(c transport.Conn) error {
				r := *st.cr
				r.c = c
				_, err := NewCNReceiver(&r).Receive(make([]uint8, n), 16, 2)
				return err
			})
		case 9: // correlated-pair receiver (widths 0..64): data is the correlations
			w0, w1 := make([]uint8, n), make([]uint8, n)
			for i := range n {
				w0[i], w1[i] = uint8(i%65), uint8((7*i)%65)
			}
			step(t, data, func(c transport.Conn) error {
				r := *st.r
				r.c = c
				_, _, err := r.ReceiveCorrelatedPair(choice, w0, w1)
				return err
			})
		case 10: // SoftSpoken setup sender: data is the trees
			step(t, data, func(c transport.Conn) error {
				_, err := ssSetupSender(c, 4, Block{}, make([]ring.Seed, Kappa))
				return err
			})
		}
	})
}

// TestTruncated checks that every receiving step rejects its real message
// cut by one byte, and accepts it whole (so the rejection is the length
// check, not something else).
func TestTruncated(t *testing.T) {
	s, r := pair(t)
	rng := rand.New(rand.NewPCG(17, 18))
	n := 100
	choice := randBits(rng, n)
	matrix := make([]byte, Kappa*padded(n)*8) // content is checked by the correctness tests
	masked := make([]byte, 2*n*64/8)
	for _, tc := range []struct {
		name string
		msg  []byte
		f    func(c transport.Conn) error
	}{
		{"matrix", matrix, func(c transport.Conn) error { ts := *s; ts.c = c; _, err := ts.COT(n); return err }},
		{"masked", masked, func(c transport.Conn) error {
			tr := *r
			tr.c = c
			_, err := tr.Receive(choice, 64)
			return err
		}},
	} {
		for _, cut := range []int{0, 1} {
			a, b := transport.Pipe()
			if err := b.Send(tc.msg[:len(tc.msg)-cut]); err != nil {
				t.Fatal(err)
			}
			err := tc.f(a)
			if cut == 1 && err == nil {
				t.Fatalf("%s cut by one byte accepted", tc.name)
			}
			if cut == 0 && err != nil {
				t.Fatalf("%s of the right length rejected: %v", tc.name, err)
			}
		}
	}
}
