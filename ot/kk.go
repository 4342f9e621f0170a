package ot

import (
	"crypto/rand"
	"fmt"
	"math/bits"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// 1-out-of-N OT (Kolesnikov and Kumaresan, Crypto 2013; the KKOT of
// CrypTFlow2/SCI), N ≤ 256. It is IKNP with the repetition code replaced
// by the Walsh–Hadamard code C of length 256 (C(x)_j = parity(x ∧ j)), in
// which any two distinct codewords differ in exactly 128 positions:
//
//   - setup: the sender picks s ∈ {0,1}^256 and gets k_j^{s_j} of the
//     receiver's 256 seed pairs by OT (random OTs of an IKNP extension the
//     other way round, so no further public-key work).
//   - extend n OTs with choices x_i < N: the receiver expands t^j = G(k_j^0)
//     and sends u^j = t^j ⊕ G(k_j^1) ⊕ C(x)^j (256·n bits); the sender gets
//     q_i = t_i ⊕ (C(x_i) ∧ s) after the transpose.
//   - key of message y: H(i, q_i ⊕ (C(y) ∧ s)); for y = x_i it is the
//     receiver's H(i, t_i), for y ≠ x_i it hides 128 unknown bits of s.
//
// The sender then sends the N messages of each OT masked by their keys.
// H here is SHA-256 (wideHash in hash.go).

// KKWidth is the code length of the 1-out-of-N OT (bits per OT in the
// extension matrix).
const KKWidth = 256

// MaxN is the largest N of the 1-out-of-N OT.
const MaxN = 256

// codewords[x] is C(x) as four words (bit j of word k is code bit 64k+j).
var codewords = func() (cw [MaxN][4]uint64) {
	for x := range MaxN {
		for j := range KKWidth {
			cw[x][j/64] |= uint64(bits.OnesCount(uint(x&j))&1) << (j % 64)
		}
	}
	return cw
}()

// NSender is the sender of 1-out-of-N OTs.
type NSender struct {
	c     transport.Conn
	s     [4]uint64
	smask [KKWidth]uint64
	prg   [KKWidth]*ring.PRG
	next  uint64
	// received and expanded count the matrices of Prepare and their sends.
	received, expanded uint64
}

// NReceiver is the receiver of 1-out-of-N OTs.
type NReceiver struct {
	c    transport.Conn
	prg  [KKWidth][2]*ring.PRG
	next uint64
}

// NewNSender sets up a 1-out-of-N sender over r's connection, taking its
// 256 base OTs from r (an extension receiver; the peer passes the matching
// Sender to NewNReceiver).
func NewNSender(r *Receiver) (*NSender, error) {
	var sb [32]byte
	if _, err := rand.Read(sb[:]); err != nil {
		return nil, fmt.Errorf("ot: drawing s: %w", err)
	}
	ns := &NSender{c: r.c}
	choice := make([]byte, KKWidth)
	for j := range KKWidth {
		choice[j] = sb[j/8] >> (j % 8) & 1
		ns.s[j/64] |= uint64(choice[j]) << (j % 64)
		ns.smask[j] = -uint64(choice[j])
	}
	keys, err := r.ROT(choice)
	if err != nil {
		return nil, fmt.Errorf("ot: 1-of-N setup: %w", err)
	}
	for j, k := range keys {
		ns.prg[j] = ring.NewPRG(seedOf(k))
	}
	return ns, nil
}

// NewNReceiver sets up a 1-out-of-N receiver over s's connection (the peer
// calls NewNSender with the matching Receiver).
func NewNReceiver(s *Sender) (*NReceiver, error) {
	m0, m1, err := s.ROT(KKWidth)
	if err != nil {
		return nil, fmt.Errorf("ot: 1-of-N setup: %w", err)
	}
	nr := &NReceiver{c: s.c}
	for j := range KKWidth {
		nr.prg[j] = [2]*ring.PRG{ring.NewPRG(seedOf(m0[j])), ring.NewPRG(seedOf(m1[j]))}
	}
	return nr, nil
}

func seedOf(b Block) (s ring.Seed) {
	for k := range 8 {
		s[k] = byte(b.Lo >> (8 * k))
		s[8+k] = byte(b.Hi >> (8 * k))
	}
	return s
}

// kkRows transposes 256 columns into n rows of 256 bits.
func kkRows(cols *[KKWidth][]uint64, n int) [][4]uint64 {
	rows := make([][4]uint64, n)
	var in, out [128]Block
	for b := 0; b*128 < n; b++ {
		m := min(128, n-b*128)
		for h := range 2 {
			for j := range 128 {
				in[j] = Block{cols[128*h+j][2*b], cols[128*h+j][2*b+1]}
			}
			transpose128(&in, &out)
			for i := range m {
				rows[b*128+i][2*h] = out[i].Lo
				rows[b*128+i][2*h+1] = out[i].Hi
			}
		}
	}
	return rows
}

func checkN(nn, ell int) error {
	if nn < 2 || nn > MaxN {
		return fmt.Errorf("ot: 1-of-%d OT, want N in 2..%d", nn, MaxN)
	}
	return checkWidth(ell)
}

// checkNWidths checks a batch of 1-out-of-nn OTs with a message width per
// OT (n of them, n ≥ 1) and returns the message bits of the batch.
func checkNWidths(nn, n int, widths []uint8) (int, error) {
	if nn < 2 || nn > MaxN {
		return 0, fmt.Errorf("ot: 1-of-%d OT, want N in 2..%d", nn, MaxN)
	}
	if n == 0 {
		return 0, fmt.Errorf("ot: 0 OTs")
	}
	total, err := checkWidths(widths, n)
	return total * nn, err
}

// uniformN checks a batch of len(msgs)/nn OTs of ell-bit messages and
// returns their widths.
func uniformN(msgs []uint64, nn, ell int) ([]uint8, error) {
	if err := checkN(nn, ell); err != nil {
		return nil, err
	}
	if len(msgs)%nn != 0 || len(msgs) == 0 {
		return nil, fmt.Errorf("ot: %d messages is not a positive multiple of N = %d", len(msgs), nn)
	}
	return uniform(len(msgs)/nn, ell), nil
}

// Send runs 1-out-of-nn OTs of ell-bit messages (1 ≤ ell ≤ 64): msgs holds
// nn messages per OT (OT i's message y at msgs[i·nn+y]). The receiver
// learns the message of its choice and nothing about the others. Two
// messages: the extension matrix in (32 bytes per OT, padded to 128
// OTs), nn·ell bits per OT out.
func (s *NSender) Send(msgs []uint64, nn, ell int) error {
	widths, err := uniformN(msgs, nn, ell)
	if err != nil {
		return err
	}
	return s.SendWidths(msgs, nn, widths)
}

// SendWidths is Send with a message width per OT: OT i's nn messages
// are widths[i] bits each (len(msgs) = nn·len(widths)).
func (s *NSender) SendWidths(msgs []uint64, nn int, widths []uint8) error {
	o, err := s.Prepare(nn, widths)
	if err != nil {
		return err
	}
	return o.Send(msgs)
}

// Prepare is the first half of SendWidths (see CNSender.Prepare): it
// receives the matrix.
func (s *NSender) Prepare(nn int, widths []uint8) (*Outgoing, error) {
	n := len(widths)
	if _, err := checkNWidths(nn, n, widths); err != nil {
		return nil, err
	}
	msg, err := transport.RecvExact(s.c, KKWidth*padded(n)*8)
	if err != nil {
		return nil, fmt.Errorf("ot: receiving the 1-of-N matrix (%d OTs): %w", n, err)
	}
	s.received++
	seq := s.received - 1
	return &Outgoing{n: n, nn: nn, send: func(gen func(int, []uint64)) error { return s.send(seq, msg, gen, nn, widths) }}, nil
}

func (s *NSender) send(seq uint64, msg []byte, gen func(int, []uint64), nn int, widths []uint8) error {
	n := len(widths)
	bits, err := checkNWidths(nn, n, widths)
	if err != nil {
		return err
	}
	if seq != s.expanded {
		return fmt.Errorf("ot: 1-of-N matrix %d sent before matrix %d", seq, s.expanded)
	}
	s.expanded++
	w := padded(n)
	var cols [KKWidth][]uint64
	u := make([]uint64, w)
	for j := range KKWidth {
		cols[j] = make([]uint64, w)
		s.prg[j].Uint64s(cols[j])
		if err := transport.DecodeUint64s(u, msg[j*w*8:(j+1)*w*8]); err != nil {
			return fmt.Errorf("ot: 1-of-N matrix: %w", err)
		}
		for k := range w {
			cols[j][k] ^= u[k] & s.smask[j]
		}
	}
	q := kkRows(&cols, n)
	base := s.next
	s.next += uint64(n)
	// C(y) ∧ s for every y, once.
	cs := make([][4]uint64, nn)
	for y := range nn {
		for k := range 4 {
			cs[y][k] = codewords[y][k] & s.s[k]
		}
	}
	bw := newBitWriter(bits)
	msgs := make([]uint64, nn)
	for i := range n {
		gen(i, msgs)
		for y := range nn {
			x := [4]uint64{q[i][0] ^ cs[y][0], q[i][1] ^ cs[y][1], q[i][2] ^ cs[y][2], q[i][3] ^ cs[y][3]}
			bw.write(msgs[y]^wideHash(base+uint64(i), &x), uint(widths[i]))
		}
	}
	if err := s.c.Send(bw.bytes()); err != nil {
		return fmt.Errorf("ot: sending 1-of-N messages: %w", err)
	}
	return nil
}

// Receive is the receiver's side of NSender.Send: choice[i] < nn picks
// OT i's message.
func (r *NReceiver) Receive(choice []uint8, nn, ell int) ([]uint64, error) {
	p, err := r.Start(choice, nn, ell)
	if err != nil {
		return nil, err
	}
	return p.Finish()
}

// Start is the first half of Receive (see CNReceiver.Start): it sends the
// matrix; Finish receives the messages.
func (r *NReceiver) Start(choice []uint8, nn, ell int) (*PendingN, error) {
	if err := checkN(nn, ell); err != nil {
		return nil, err
	}
	return r.StartWidths(choice, nn, uniform(len(choice), ell))
}

// StartWidths is Start with a message width per OT (NSender.SendWidths).
func (r *NReceiver) StartWidths(choice []uint8, nn int, widths []uint8) (*PendingN, error) {
	n := len(choice)
	bits, err := checkNWidths(nn, n, widths)
	if err != nil {
		return nil, err
	}
	w := padded(n)
	var cols [KKWidth][]uint64
	// The codewords of the choices, as columns: rows of 256 bits transposed.
	var in, out [128]Block
	for b := 0; b*128 < n; b++ {
		for h := range 2 {
			for i := range 128 {
				in[i] = Block{}
				if k := b*128 + i; k < n {
					x := choice[k]
					if int(x) >= nn {
						return nil, fmt.Errorf("ot: choice %d is %d, want < %d", k, x, nn)
					}
					in[i] = Block{codewords[x][2*h], codewords[x][2*h+1]}
				}
			}
			transpose128(&in, &out)
			for j := range 128 {
				if cols[128*h+j] == nil {
					cols[128*h+j] = make([]uint64, w)
				}
				cols[128*h+j][2*b] = out[j].Lo
				cols[128*h+j][2*b+1] = out[j].Hi
			}
		}
	}
	msg := make([]byte, KKWidth*w*8)
	t := make([]uint64, w)
	u := make([]uint64, w)
	for j := range KKWidth {
		r.prg[j][0].Uint64s(t)
		r.prg[j][1].Uint64s(u)
		for k := range w {
			u[k] ^= t[k] ^ cols[j][k]
		}
		copy(cols[j], t) // cols now holds t
		transport.EncodeUint64s(msg[j*w*8:(j+1)*w*8], u)
	}
	if err := r.c.Send(msg); err != nil {
		return nil, fmt.Errorf("ot: sending the 1-of-N matrix: %w", err)
	}
	rows := kkRows(&cols, n)
	base := r.next
	r.next += uint64(n)
	res := make([]uint64, n)
	for i := range n {
		res[i] = wideHash(base+uint64(i), &rows[i])
	}
	return &PendingN{finish: func() ([]uint64, error) {
		return readChosen(r.c, bits, choice, nn, widths, res)
	}}, nil
}
