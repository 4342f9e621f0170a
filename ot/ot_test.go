package ot

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// TestTranspose64Fast: the vector transpose (where the CPU has one)
// against the plain Eklundh transpose and against the definition.
func TestTranspose64Fast(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		var a [64]uint64
		for i := range a {
			a[i] = rng.Uint64()
		}
		got, want := a, a
		transpose64Fast(&got)
		transpose64(&want)
		if got != want {
			t.Fatal("transpose64Fast differs from transpose64")
		}
		for r := range 64 {
			for c := range 64 {
				if got[r]>>c&1 != a[c]>>r&1 {
					t.Fatalf("bit (%d, %d) is not the transpose", r, c)
				}
			}
		}
	}
}

func TestTranspose128(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in, out, back [128]Block
	for i := range in {
		in[i] = Block{rng.Uint64(), rng.Uint64()}
	}
	transpose128(&in, &out)
	for i := range 128 {
		for j := range 128 {
			if out[i].Bit(j) != in[j].Bit(i) {
				t.Fatalf("out[%d] bit %d = %d, in[%d] bit %d = %d", i, j, out[i].Bit(j), j, i, in[j].Bit(i))
			}
		}
	}
	transpose128(&out, &back)
	if back != in {
		t.Fatal("transpose is not an involution")
	}
}

func TestBitPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	widths := make([]uint, 1000)
	vals := make([]uint64, len(widths))
	total := 0
	for i := range widths {
		widths[i] = uint(1 + rng.IntN(64))
		vals[i] = rng.Uint64()
		total += int(widths[i])
	}
	bw := newBitWriter(total)
	for i, v := range vals {
		bw.write(v, widths[i])
	}
	msg := bw.bytes()
	// The wire form: value i's bits, least significant first, packed
	// from bit 0 of byte 0 on.
	want := make([]byte, (total+7)/8)
	pos := 0
	for i, v := range vals {
		for j := range widths[i] {
			want[pos/8] |= byte(v>>j&1) << (pos % 8)
			pos++
		}
	}
	if !bytes.Equal(msg, want) {
		t.Fatal("packed bytes differ from the bit-by-bit packing")
	}
	br, err := newBitReader(msg, total, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := br.read(widths[i]); got != v&mask(widths[i]) {
			t.Fatalf("value %d (%d bits): got %x want %x", i, widths[i], got, v&mask(widths[i]))
		}
	}
	if _, err := newBitReader(msg[1:], total, "test"); err == nil {
		t.Fatal("short message accepted")
	}
}

// run runs the two sides of a protocol over a pipe, each in its own
// goroutine, and returns their errors.
func run(t testing.TB, a, b func(c transport.Conn) error) (transport.Conn, transport.Conn) {
	t.Helper()
	ca, cb := transport.Pipe()
	errs := make(chan error, 2)
	go func() { errs <- a(ca) }()
	go func() { errs <- b(cb) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return ca, cb
}

func randBits(rng *rand.Rand, n int) []byte {
	c := make([]byte, n)
	for i := range c {
		c[i] = byte(rng.IntN(2))
	}
	return c
}

func TestBaseOT(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	choices := randBits(rng, 64)
	var keys [][2][16]byte
	var got [][16]byte
	run(t, func(c transport.Conn) error {
		k, err := BaseSend(c, len(choices))
		for _, p := range k {
			keys = append(keys, [2][16]byte{p[0], p[1]})
		}
		return err
	}, func(c transport.Conn) error {
		k, err := BaseReceive(c, choices)
		for _, s := range k {
			got = append(got, s)
		}
		return err
	})
	for i, ch := range choices {
		if got[i] != keys[i][ch] || got[i] == keys[i][1-ch] {
			t.Fatalf("base OT %d: receiver's key does not match exactly the chosen one", i)
		}
	}
}

// pair sets up a Sender on one end of a pipe and a Receiver on the other.
func pair(t testing.TB) (*Sender, *Receiver) {
	var s *Sender
	var r *Receiver
	run(t, func(c transport.Conn) (err error) { s, err = NewSender(c); return },
		func(c transport.Conn) (err error) { r, err = NewReceiver(c); return })
	return s, r
}

func TestCOT(t *testing.T) {
	s, r := pair(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 127, 128, 129, 1000} {
		choice := randBits(rng, n)
		var q, tt []Block
		errs := make(chan error, 1)
		go func() { var err error; q, err = s.COT(n); errs <- err }()
		tt, err := r.COT(choice)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		for i := range n {
			want := q[i]
			if choice[i] == 1 {
				want = want.Xor(s.Delta())
			}
			if tt[i] != want {
				t.Fatalf("n=%d OT %d: t != q ⊕ r·Δ", n, i)
			}
		}
	}
}

func TestROT(t *testing.T) {
	s, r := pair(t)
	rng := rand.New(rand.NewPCG(9, 10))
	n := 500
	choice := randBits(rng, n)
	var m0, m1 []Block
	errs := make(chan error, 1)
	go func() { var err error; m0, m1, err = s.ROT(n); errs <- err }()
	got, err := r.ROT(choice)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		want, other := m0[i], m1[i]
		if choice[i] == 1 {
			want, other = other, want
		}
		if got[i] != want || got[i] == other {
			t.Fatalf("ROT %d: receiver's message is not exactly the chosen one", i)
		}
	}
}

func TestChosenOT(t *testing.T) {
	s, r := pair(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, ell := range []int{1, 2, 17, 32, 63, 64} {
		n := 300
		choice := randBits(rng, n)
		m0, m1 := make([]uint64, n), make([]uint64, n)
		for i := range n {
			m0[i], m1[i] = rng.Uint64()&mask(uint(ell)), rng.Uint64()&mask(uint(ell))
		}
		errs := make(chan error, 1)
		go func() { errs <- s.Send(m0, m1, ell) }()
		got, err := r.Receive(choice, ell)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		for i := range n {
			want := m0[i]
			if choice[i] == 1 {
				want = m1[i]
			}
			if got[i] != want {
				t.Fatalf("ell=%d OT %d: got %x want %x", ell, i, got[i], want)
			}
		}
	}
}

func TestCorrelatedOT(t *testing.T) {
	s, r := pair(t)
	rng := rand.New(rand.NewPCG(13, 14))
	n := 400
	choice := randBits(rng, n)
	delta := make([]uint64, n)
	widths := make([]uint8, n)
	for i := range n {
		delta[i] = rng.Uint64()
		widths[i] = uint8(1 + rng.IntN(64))
	}
	var x []uint64
	errs := make(chan error, 1)
	go func() { var err error; x, err = s.SendCorrelatedWidths(delta, widths); errs <- err }()
	got, err := r.ReceiveCorrelatedWidths(choice, widths)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		w := uint(widths[i])
		want := (x[i] + uint64(choice[i])*delta[i]) & mask(w)
		if got[i] != want || x[i] != x[i]&mask(w) {
			t.Fatalf("OT %d (%d bits): got %x want %x", i, w, got[i], want)
		}
	}
}

// sessions sets up two Sessions over a pipe with IKNP and KK13 (the
// extensions most tests here exercise).
func sessions(t testing.TB) (*Session, *Session, transport.Conn, transport.Conn) {
	return sessionsCfg(t, Config{KK: true})
}

// sessionsCfg sets up two Sessions with configuration cfg.
func sessionsCfg(t testing.TB, cfg Config) (*Session, *Session, transport.Conn, transport.Conn) {
	var s0, s1 *Session
	c0, c1 := run(t, func(c transport.Conn) (err error) { s0, err = NewSessionConfig(c, 0, cfg); return },
		func(c transport.Conn) (err error) { s1, err = NewSessionConfig(c, 1, cfg); return })
	return s0, s1, c0, c1
}

// TestOneOfN runs 1-out-of-N OT by KK13 and from COTs (IKNP and SoftSpoken);
// the batches of more than 4,096 COTs come in several row chunks, and
// with N = 5 (3 COTs per OT) an OT's rows straddle two of them.
func TestOneOfN(t *testing.T) {
	for _, cfg := range []Config{{KK: true}, {}, {K: 3}, DefaultConfig} {
		testOneOfN(t, cfg)
	}
}

func testOneOfN(t *testing.T, cfg Config) {
	s0, s1, _, _ := sessionsCfg(t, cfg)
	if (s0.NSend != nil) != cfg.KK {
		t.Fatalf("%v: KK13 sender %v", cfg, s0.NSend)
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for _, tc := range []struct{ n, nn, ell int }{{1, 2, 1}, {200, 16, 2}, {129, 256, 64}, {300, 5, 7}, {70, 3, 64}, {2000, 5, 3}, {1500, 16, 2}} {
		// Both directions: party 0 sends to party 1 and the reverse.
		for dir := range 2 {
			snd, rcv := s0, s1
			if dir == 1 {
				snd, rcv = s1, s0
			}
			msgs := make([]uint64, tc.n*tc.nn)
			for i := range msgs {
				msgs[i] = rng.Uint64() & mask(uint(tc.ell))
			}
			choice := make([]uint8, tc.n)
			for i := range choice {
				choice[i] = uint8(rng.IntN(tc.nn))
			}
			errs := make(chan error, 1)
			go func() { errs <- snd.SendN(msgs, tc.nn, tc.ell) }()
			got, err := rcv.ReceiveN(choice, tc.nn, tc.ell)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			for i := range tc.n {
				if want := msgs[i*tc.nn+int(choice[i])]; got[i] != want {
					t.Fatalf("%v %+v dir %d OT %d: got %x want %x", cfg, tc, dir, i, got[i], want)
				}
			}
		}
	}
}

func TestCodewordDistance(t *testing.T) {
	for x := range MaxN {
		for y := x + 1; y < MaxN; y++ {
			d := 0
			for k := range 4 {
				d += bits.OnesCount64(codewords[x][k] ^ codewords[y][k])
			}
			if d != 128 {
				t.Fatalf("C(%d), C(%d) differ in %d bits, want 128", x, y, d)
			}
		}
	}
}

// TestSessionCost: a session's setup is 128 base OTs each way (the sender
// key A and 128 receiver elements of 32 bytes) and 256 random OTs each way
// for the 1-out-of-N base seeds (IKNP matrices of 128·256 bits).
func TestSessionCost(t *testing.T) {
	_, _, c0, _ := sessions(t)
	want := 2*(elemSize+Kappa*elemSize) + 2*(Kappa*padded(KKWidth)*8)
	got := c0.Stats().Total()
	if int(got.Bytes()) != want {
		t.Fatalf("session setup: %d bytes, want %d", got.Bytes(), want)
	}
	t.Logf("session setup: %d bytes, %d rounds (party 0)", got.Bytes(), got.Rounds)
	// The default: two SoftSpoken pairs (K and KMul), each 128 base OTs
	// and the 4,096-byte tree message per direction, no KK13.
	start := time.Now()
	_, _, d0, _ := sessionsCfg(t, DefaultConfig)
	want = 4 * (elemSize + Kappa*elemSize + 32*Kappa)
	if got := d0.Stats().Total(); int(got.Bytes()) != want {
		t.Fatalf("default session setup: %d bytes, want %d", got.Bytes(), want)
	}
	t.Logf("default session setup: %d bytes, %v", want, time.Since(start))
}

// TestOneOfNWidths: one batch of 1-out-of-16 OTs with a message width
// per OT, run the way the gates run it: both parties start their receive
// (matrix out) before either sends, then send, then finish.
func TestOneOfNWidths(t *testing.T) {
	for _, cfg := range []Config{{KK: true}, {}, DefaultConfig} {
		s := [2]*Session{}
		s[0], s[1], _, _ = sessionsCfg(t, cfg)
		rng := rand.New(rand.NewPCG(17, 18))
		const nn = 16
		var msgs, want [2][]uint64
		var choice, widths [2][]uint8
		for id := range 2 { // id: the sender
			n := 150 + 37*id
			widths[id] = make([]uint8, n)
			choice[id] = make([]uint8, n)
			msgs[id] = make([]uint64, n*nn)
			want[id] = make([]uint64, n)
			for i := range n {
				widths[id][i] = []uint8{2, 8, 64, 1}[rng.IntN(4)]
				choice[id][i] = uint8(rng.IntN(nn))
				for y := range nn {
					msgs[id][i*nn+y] = rng.Uint64() & mask(uint(widths[id][i]))
				}
				want[id][i] = msgs[id][i*nn+int(choice[id][i])]
			}
		}
		errs := make(chan error, 2)
		var got [2][]uint64
		for id := range 2 {
			go func() {
				peer := 1 - id
				p, err := s[id].StartReceiveNWidths(choice[peer], nn, widths[peer])
				var o *Outgoing
				if err == nil {
					o, err = s[id].PrepareSendN(nn, widths[id])
				}
				if err == nil {
					err = o.Send(msgs[id])
				}
				if err == nil {
					got[id], err = p.Finish()
				}
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("%v: %v", cfg, err)
			}
		}
		for id := range 2 {
			if !slices.Equal(got[id], want[1-id]) {
				t.Errorf("%v: party %d received the wrong messages", cfg, id)
			}
		}
		if _, err := s[0].StartReceiveNWidths([]uint8{1}, nn, []uint8{65}); err == nil {
			t.Errorf("%v: a 65-bit width was accepted", cfg)
		}
		// Two prepared sends must go out in the order prepared.
		w := []uint8{3}
		for range 2 {
			if _, err := s[0].StartReceiveNWidths([]uint8{5}, nn, w); err != nil {
				t.Fatal(err)
			}
		}
		o1, err1 := s[1].PrepareSendN(nn, w)
		o2, err2 := s[1].PrepareSendN(nn, w)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if err := o2.Send(make([]uint64, nn)); err == nil {
			t.Errorf("%v: the second prepared send went out first", cfg)
		}
		if err := o1.Send(make([]uint64, nn)); err != nil {
			t.Errorf("%v: %v", cfg, err)
		}
	}
}

// TestPrepareCorrelated: a correlated receive prepared before the sender
// starts gives the same relation, and its steps refuse the wrong order.
func TestPrepareCorrelated(t *testing.T) {
	s, r := pair(t)
	rng := rand.New(rand.NewPCG(19, 20))
	n := 300
	choice := randBits(rng, n)
	delta := make([]uint64, n)
	widths := make([]uint8, n)
	for i := range n {
		delta[i], widths[i] = rng.Uint64(), 32
	}
	p, err := r.PrepareCorrelatedWidths(choice, widths)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Finish(); err == nil {
		t.Fatal("finished before the matrix was sent")
	}
	var x []uint64
	errs := make(chan error, 1)
	go func() { var err error; x, err = s.SendCorrelatedWidths(delta, widths); errs <- err }()
	if err := p.Send(); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(); err == nil {
		t.Fatal("the matrix was sent twice")
	}
	got, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if want := (x[i] + uint64(choice[i])*delta[i]) & mask(32); got[i] != want {
			t.Fatalf("OT %d: got %x want %x", i, got[i], want)
		}
	}
}
