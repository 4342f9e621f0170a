package ot

import (
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Kappa is the computational security parameter: the number of base OTs
// of the IKNP extension and the width of its rows (bits).
const Kappa = 128

// IKNP OT extension (Ishai, Kilian, Nissim and Petrank, Crypto 2003) in
// its correlated form with a global Δ (as emp-ot and SCI's IKNP):
//
//   - setup: the extension's sender S picks Δ ∈ {0,1}^128 and receives, by
//     128 base OTs in which it is the base receiver with choice bits Δ, one
//     of two seeds k_j^0, k_j^1 held by the extension's receiver R.
//   - extend n OTs with R's choice bits r: R expands t^j = G(k_j^0) and
//     sends the columns u^j = t^j ⊕ G(k_j^1) ⊕ r (128·n bits); S computes
//     q^j = G(k_j^{Δ_j}) ⊕ Δ_j·u^j = t^j ⊕ Δ_j·r. Transposed into rows:
//     q_i = t_i ⊕ r_i·Δ.
//
// So each row pair is a correlated OT (COT): S holds q_i and Δ, R holds
// t_i = q_i ⊕ r_i·Δ. Random, chosen-message and additively correlated OTs
// follow by hashing rows with the TCCR hash H (hash.go): S's two random
// messages are H(i, q_i) and H(i, q_i ⊕ Δ), R's is H(i, t_i). G is AES-128
// in counter mode keyed by the seed (ring.PRG), a PRG under the usual
// assumption that AES is a pseudo-random permutation. Semi-honest security.
//
// Every OT has an index, the tweak of its hash, counted identically by both
// sides over the life of a Sender/Receiver pair; the two sides must call
// matching methods with matching sizes in the same order.

// Sender is the extension's sender: it holds Δ.
type Sender struct {
	c     transport.Conn
	delta Block
	dmask [Kappa]uint64 // all ones where Δ_j = 1
	prg   [Kappa]*ring.PRG
	ss    *ssSide       // non-nil: SoftSpoken columns (softspoken.go) instead of IKNP's
	fe    *ferretSender // non-nil: COTs from Ferret first (ferret.go)
	pre   *sendPool     // non-nil: COTs precomputed (pool.go), before all else
	next  uint64
	sc    scratch
	// received and expanded count the matrices of recvMatrix and expand.
	received, expanded uint64
}

// Receiver is the extension's receiver: it holds the choice bits.
type Receiver struct {
	c    transport.Conn
	prg  [Kappa][2]*ring.PRG
	ss   *ssSide         // non-nil: SoftSpoken columns
	fe   *ferretReceiver // non-nil: COTs from Ferret first (ferret.go)
	pre  *recvPool       // non-nil: COTs precomputed (pool.go), before all else
	next uint64
	sc   scratch
}

// NewSender sets up the sender's side of an IKNP extension over c (128
// base OTs as base receiver; the peer calls NewReceiver).
func NewSender(c transport.Conn) (*Sender, error) { return NewSenderK(c, 0) }

// NewSenderK is NewSender with SoftSpoken parameter k (1..MaxSoftSpokenK;
// 0 selects IKNP): an OT then costs ⌈128/k⌉ bits instead of 128. The peer
// calls NewReceiverK with the same k.
func NewSenderK(c transport.Conn, k int) (*Sender, error) {
	if k != 0 {
		if err := checkSoftSpokenK(k); err != nil {
			return nil, err
		}
	}
	var db [16]byte
	if _, err := rand.Read(db[:]); err != nil {
		return nil, fmt.Errorf("ot: drawing Δ: %w", err)
	}
	s := &Sender{c: c}
	s.delta = blockFromBytes(db[:])
	choices := make([]byte, Kappa)
	for j := range Kappa {
		choices[j] = s.delta.Bit(j)
		s.dmask[j] = -uint64(choices[j])
	}
	seeds, err := BaseReceive(c, choices)
	if err != nil {
		return nil, err
	}
	if k != 0 {
		if s.ss, err = ssSetupSender(c, k, s.delta, seeds); err != nil {
			return nil, err
		}
		return s, nil
	}
	for j, sd := range seeds {
		s.prg[j] = ring.NewPRG(sd)
	}
	return s, nil
}

// NewReceiver sets up the receiver's side of an IKNP extension over c (the
// peer calls NewSender).
func NewReceiver(c transport.Conn) (*Receiver, error) { return NewReceiverK(c, 0) }

// NewReceiverK is NewReceiver with SoftSpoken parameter k (0: IKNP); the
// peer calls NewSenderK with the same k.
func NewReceiverK(c transport.Conn, k int) (*Receiver, error) {
	if k != 0 {
		if err := checkSoftSpokenK(k); err != nil {
			return nil, err
		}
	}
	keys, err := BaseSend(c, Kappa)
	if err != nil {
		return nil, err
	}
	r := &Receiver{c: c}
	if k != 0 {
		if r.ss, err = ssSetupReceiver(c, k, keys); err != nil {
			return nil, err
		}
		return r, nil
	}
	for j, k := range keys {
		r.prg[j] = [2]*ring.PRG{ring.NewPRG(k[0]), ring.NewPRG(k[1])}
	}
	return r, nil
}

// Delta returns the sender's global correlation Δ.
func (s *Sender) Delta() Block { return s.delta }

func blockFromBytes(b []byte) Block {
	var x Block
	for k := range 8 {
		x.Lo |= uint64(b[k]) << (8 * k)
		x.Hi |= uint64(b[8+k]) << (8 * k)
	}
	return x
}

// padded returns the number of words of a column of n OTs (rows padded to
// a multiple of 128 for the transpose).
func padded(n int) int { return (n + 127) / 128 * 2 }

// rowsChunk transposes the first m words (m even) of the 128 columns
// into the rows (up to 64·m of them; fewer at the end of a batch): per
// 128 rows, the four 64×64 quadrants of transpose128, loaded from the
// columns and stored to the rows directly.
func rowsChunk(cols *[Kappa][]uint64, m int, rows []Block) {
	var q [4][64]uint64 // as in transpose128
	for b := 0; b < m/2 && b*128 < len(rows); b++ {
		for j := range 64 {
			q[0][j], q[1][j] = cols[j][2*b], cols[j][2*b+1]
			q[2][j], q[3][j] = cols[64+j][2*b], cols[64+j][2*b+1]
		}
		for k := range q {
			transpose64Fast(&q[k])
		}
		out := rows[b*128 : b*128+min(128, len(rows)-b*128)]
		for i := range min(64, len(out)) {
			out[i] = Block{q[0][i], q[2][i]}
		}
		for i := 64; i < len(out); i++ {
			out[i] = Block{q[1][i-64], q[3][i-64]}
		}
	}
}

// COT extends n correlated OTs: it returns q_1..q_n, of which the receiver
// gets t_i = q_i ⊕ r_i·Δ. It receives one message of 16·⌈n/128⌉·128 bytes.
func (s *Sender) COT(n int) ([]Block, error) {
	q, _, err := s.cot(n)
	if err != nil {
		return nil, err
	}
	q = slices.Clone(q)
	return q, s.refill()
}

// refill sends, as a message of their own, the Ferret iterations the
// oldest matrix without a payload asked for (ferret.go; nothing without
// Ferret): the raw COT and ROT, which have no payload, call it right
// after the matrix.
func (s *Sender) refill() error {
	if s.fe == nil {
		return nil
	}
	pre, err := s.fe.refillMsg()
	if err != nil || len(pre) == 0 {
		return err
	}
	if err := s.c.Send(pre); err != nil {
		return fmt.Errorf("ot: sending a ferret iteration: %w", err)
	}
	return nil
}

// refill is the receiver's side of Sender.refill.
func (r *Receiver) refill() error {
	if r.fe == nil {
		return nil
	}
	k, err := r.fe.popOwed()
	if err != nil || k == 0 {
		return err
	}
	msg, err := transport.RecvExact(r.c, k*r.fe.p.msgBytes())
	if err != nil {
		return fmt.Errorf("ot: receiving a ferret iteration: %w", err)
	}
	return r.fe.absorbAll(msg, k)
}

// sendPayload sends a batch's payload b (the step what), preceded in the
// same message by the Ferret iterations its matrix asked for: one
// message, so that a sender whose peer is also sending never has two in
// flight (otgates' ordered connection waits for one before the next).
func (s *Sender) sendPayload(b []byte, what string) error {
	var pre []byte
	if s.fe != nil {
		var err error
		if pre, err = s.fe.refillMsg(); err != nil {
			return err
		}
	}
	var err error
	if len(pre) == 0 {
		err = s.c.Send(b)
	} else {
		err = transport.SendParts(s.c, pre, b)
	}
	if err != nil {
		return fmt.Errorf("ot: sending %s: %w", what, err)
	}
	return nil
}

// recvPayload is the receiver's side of sendPayload: it reads the
// payload of bits bits after absorbing the iterations.
func (r *Receiver) recvPayload(bits int, what string) (*bitReader, error) {
	if r.fe == nil {
		return recvBits(r.c, bits, what)
	}
	k, err := r.fe.popOwed()
	if err != nil {
		return nil, err
	}
	pre := k * r.fe.p.msgBytes()
	msg, err := transport.RecvExact(r.c, pre+(bits+7)/8)
	if err != nil {
		return nil, fmt.Errorf("ot: receiving %s: %w", what, err)
	}
	if err := r.fe.absorbAll(msg[:pre], k); err != nil {
		return nil, err
	}
	return newBitReader(msg[pre:], bits, what)
}

// cot is COT with the rows in s's scratch: valid until the next call.
func (s *Sender) cot(n int) ([]Block, uint64, error) {
	m, err := s.recvMatrix(n)
	if err != nil {
		return nil, 0, err
	}
	return s.expand(m)
}

// matrix is a received extension matrix of n OTs, number seq in the
// order of receipt, not yet expanded.
type matrix struct {
	n   int
	seq uint64
	msg []byte
	fm  int // OTs from the Ferret buffer (ferret.go)
	// pool, when set, serves all n OTs: msg is the derandomization bits
	// (pool.go).
	pool *sendPool
}

// recvMatrix receives the receiver's matrix for n OTs. The PRG streams
// advance only when it is expanded, so matrices must be expanded in the
// order they were received (expand checks).
func (s *Sender) recvMatrix(n int) (matrix, error) {
	if n <= 0 {
		return matrix{}, fmt.Errorf("ot: %d OTs", n)
	}
	if p := s.pre; p != nil {
		msg, err := p.recvBits(s.c, n)
		if err != nil {
			return matrix{}, err
		}
		if s.fe != nil {
			s.fe.owed = append(s.fe.owed, 0) // its payload carries no iterations
		}
		s.received++
		return matrix{n: n, seq: s.received - 1, msg: msg, pool: p}, nil
	}
	if s.fe != nil {
		msg, fm, err := s.fe.recvMatrix(s.c, n, s.matrixBytes)
		if err != nil {
			return matrix{}, err
		}
		s.received++
		return matrix{n: n, seq: s.received - 1, msg: msg, fm: fm}, nil
	}
	msg, err := transport.RecvExact(s.c, s.matrixBytes(n))
	if err != nil {
		return matrix{}, fmt.Errorf("ot: receiving the extension matrix (%d OTs): %w", n, err)
	}
	s.received++
	return matrix{n: n, seq: s.received - 1, msg: msg}, nil
}

// matrixBytes is the size of the extension's matrix of n OTs.
func (s *Sender) matrixBytes(n int) int {
	if s.ss != nil {
		return s.ss.msgBytes(padded(n))
	}
	return Kappa * padded(n) * 8
}

// expand turns a received matrix into the rows q_i (in s's scratch, valid
// until the next call) and the index of the first.
func (s *Sender) expand(m matrix) ([]Block, uint64, error) {
	rows := grow(&s.sc.rows, m.n)
	base, err := s.expandTo(m, fullRows(rows))
	return rows, base, err
}

// rowWriter takes an extension's rows as they are made: dst gives where
// rows [first, first+count) go, and ready (if set) is called once they
// are there. With SoftSpoken the rows come 4,096 at a time, in order, so
// a consumer that only needs each row once can keep them in a chunk-sized
// buffer instead of the whole batch.
type rowWriter struct {
	dst   func(first, count int) []Block
	ready func(first int, rows []Block)
}

// fullRows writes every row into rows.
func fullRows(rows []Block) rowWriter {
	return rowWriter{dst: func(first, count int) []Block { return rows[first : first+count] }}
}

// streamRows writes each chunk of rows into *buf (reused) and hands it to
// ready.
func streamRows(buf *[]Block, ready func(first int, rows []Block)) rowWriter {
	return rowWriter{dst: func(_, count int) []Block { return grow(buf, count) }, ready: ready}
}

// put transposes the first m words of the columns, which hold rows
// [first, first+64m), into the writer (the rows below n only).
func (rw rowWriter) put(cols *[Kappa][]uint64, m, first, n int) {
	count := min(n, first+64*m) - first
	if count <= 0 {
		return
	}
	d := rw.dst(first, count)
	rowsChunk(cols, m, d)
	if rw.ready != nil {
		rw.ready(first, d)
	}
}

// expandTo expands a received matrix into rw and returns the index of
// the first row.
func (s *Sender) expandTo(m matrix, rw rowWriter) (uint64, error) {
	if m.seq != s.expanded {
		return 0, fmt.Errorf("ot: extension matrix %d expanded before matrix %d", m.seq, s.expanded)
	}
	s.expanded++
	base := s.next
	s.next += uint64(m.n)
	if m.pool != nil {
		m.pool.expand(m.msg, m.n, s.delta, rw)
		return base, nil
	}
	if s.fe == nil {
		return base, s.extExpand(m.n, m.msg, rw)
	}
	rest := s.fe.expand(m.msg, m.fm, rw)
	if m.fm == m.n {
		return base, nil
	}
	return base, s.extExpand(m.n-m.fm, rest, rw.from(m.fm))
}

// extExpand is the extension's part of expandTo: n rows from its matrix
// msg.
func (s *Sender) extExpand(n int, msg []byte, rw rowWriter) error {
	w := padded(n)
	var cols [Kappa][]uint64
	if s.ss != nil {
		columnsOf(&cols, &s.sc.cols, min(w, ssChunk))
		return s.ss.senderCols(&cols, msg, w, n, rw, &s.sc.aux)
	}
	columnsOf(&cols, &s.sc.cols, w)
	u := grow(&s.sc.aux, w)
	for j := range Kappa {
		s.prg[j].Uint64s(cols[j])
		if err := transport.DecodeUint64s(u, msg[j*w*8:(j+1)*w*8]); err != nil {
			return fmt.Errorf("ot: extension matrix: %w", err)
		}
		for k := range w {
			cols[j][k] ^= u[k] & s.dmask[j]
		}
	}
	rw.put(&cols, w, 0, n)
	return nil
}

// COT extends len(choice) correlated OTs with the given choice bits (one
// 0/1 per byte) and returns t_i = q_i ⊕ choice_i·Δ. It sends one message.
func (r *Receiver) COT(choice []byte) ([]Block, error) {
	t, _, err := r.cot(choice)
	if err != nil {
		return nil, err
	}
	t = slices.Clone(t)
	return t, r.refill()
}

// cot is COT with the rows in r's scratch: valid until the next call.
func (r *Receiver) cot(choice []byte) ([]Block, uint64, error) {
	rows, base, msg, err := r.makeCOT(choice)
	if err != nil {
		return nil, 0, err
	}
	if err := r.c.Send(msg); err != nil {
		return nil, 0, fmt.Errorf("ot: sending the extension matrix: %w", err)
	}
	return rows, base, nil
}

// makeCOT is cot without the send: the rows (r's scratch), their first
// index and the matrix message (r's scratch too), valid until the next
// extension of r.
func (r *Receiver) makeCOT(choice []byte) ([]Block, uint64, []byte, error) {
	rows := grow(&r.sc.rows, len(choice))
	base, msg, err := r.makeCOTTo(choice, fullRows(rows))
	return rows, base, msg, err
}

// makeCOTTo is makeCOT with the rows going to rw.
func (r *Receiver) makeCOTTo(choice []byte, rows rowWriter) (uint64, []byte, error) {
	n := len(choice)
	if n == 0 {
		return 0, nil, fmt.Errorf("ot: 0 OTs")
	}
	for i, b := range choice {
		if b > 1 {
			return 0, nil, fmt.Errorf("ot: choice %d is %d, not a bit", i, b)
		}
	}
	if p := r.pre; p != nil {
		msg, err := p.take(choice, rows, &r.sc.msg)
		if err != nil {
			return 0, nil, err
		}
		if r.fe != nil {
			r.fe.owed = append(r.fe.owed, 0) // as the sender's recvMatrix
		}
		r.next += uint64(n)
		return r.next - uint64(n), msg, nil
	}
	base := r.next
	r.next += uint64(n)
	if r.fe != nil {
		msg, err := r.fe.makeMatrix(choice, rows, r.extMatrix)
		return base, msg, err
	}
	msg, err := r.extMatrix(choice, rows)
	return base, msg, err
}

// extMatrix is the extension's part of makeCOTTo: the matrix of the
// (checked) choice bits, the rows going to rows.
func (r *Receiver) extMatrix(choice []byte, rows rowWriter) ([]byte, error) {
	n := len(choice)
	w := padded(n)
	rw := make([]uint64, w)
	for i, b := range choice {
		rw[i/64] |= uint64(b) << (i % 64)
	}
	var cols [Kappa][]uint64
	if r.ss != nil {
		columnsOf(&cols, &r.sc.cols, min(w, ssChunk))
		return r.ss.receiverCols(&cols, rw, n, rows, &r.sc.aux, &r.sc.msg), nil
	}
	columnsOf(&cols, &r.sc.cols, w)
	msg := grow(&r.sc.msg, Kappa*w*8)
	u := grow(&r.sc.aux, w)
	for j := range Kappa {
		r.prg[j][0].Uint64s(cols[j])
		r.prg[j][1].Uint64s(u)
		for k := range w {
			u[k] ^= cols[j][k] ^ rw[k]
		}
		transport.EncodeUint64s(msg[j*w*8:(j+1)*w*8], u)
	}
	rows.put(&cols, w, 0, n)
	return msg, nil
}

// ROT extends n random OTs: the sender gets two random 128-bit messages
// per OT, m0[i] and m1[i]; the receiver gets m_{choice_i}[i].
func (s *Sender) ROT(n int) (m0, m1 []Block, err error) {
	q, base, err := s.cot(n)
	if err != nil {
		return nil, nil, err
	}
	m0, m1 = rowHashes(q, base, Block{}, &s.sc), rowHashes(q, base, s.delta, &s.sc)
	return m0, m1, s.refill()
}

// ROT is the receiver's side of Sender.ROT.
func (r *Receiver) ROT(choice []byte) ([]Block, error) {
	t, base, err := r.cot(choice)
	if err != nil {
		return nil, err
	}
	h := rowHashes(t, base, Block{}, &r.sc)
	return h, r.refill()
}

// rowHashes returns H(base+i, rows[i] ⊕ d) for every row: the random
// message of OT i (d = 0 or Δ), batched through permBlocks (sc's tweak
// and hash buffers as scratch).
func rowHashes(rows []Block, base uint64, d Block, sc *scratch) []Block {
	x := make([]Block, len(rows))
	tw := grow(&sc.tw, len(rows))
	for i, r := range rows {
		x[i] = r.Xor(d)
		tw[i] = Block{base + uint64(i), 0}
	}
	tccrBlocks(x, x, tw, &sc.tmp)
	return x
}

func checkWidth(ell int) error {
	if ell < 1 || ell > 64 {
		return fmt.Errorf("ot: message width %d bits, want 1..64", ell)
	}
	return nil
}

// Send runs len(m0) chosen-message OTs of ell-bit messages (1 ≤ ell ≤ 64;
// higher bits are ignored): the receiver learns m0[i] or m1[i] by its
// choice bit and nothing about the other. Two messages: the extension
// matrix in, 2·ell bits per OT out.
func (s *Sender) Send(m0, m1 []uint64, ell int) error {
	if err := checkWidth(ell); err != nil {
		return err
	}
	if len(m0) != len(m1) {
		return fmt.Errorf("ot: %d and %d messages", len(m0), len(m1))
	}
	q, base, err := s.cot(len(m0))
	if err != nil {
		return err
	}
	h0, h1 := rowHashes(q, base, Block{}, &s.sc), rowHashes(q, base, s.delta, &s.sc)
	bw := s.sc.bitWriter(2 * ell * len(q))
	for i := range q {
		bw.write(m0[i]^h0[i].Lo, uint(ell))
		bw.write(m1[i]^h1[i].Lo, uint(ell))
	}
	return s.sendPayload(bw.bytes(), "masked messages")
}

// Receive is the receiver's side of Sender.Send.
func (r *Receiver) Receive(choice []byte, ell int) ([]uint64, error) {
	if err := checkWidth(ell); err != nil {
		return nil, err
	}
	t, base, err := r.cot(choice)
	if err != nil {
		return nil, err
	}
	br, err := r.recvPayload(2*ell*len(t), "masked messages")
	if err != nil {
		return nil, err
	}
	h := rowHashes(t, base, Block{}, &r.sc)
	out := make([]uint64, len(t))
	for i := range t {
		y0 := br.read(uint(ell))
		y1 := br.read(uint(ell))
		y := y0
		if choice[i] == 1 {
			y = y1
		}
		out[i] = (y ^ h[i].Lo) & mask(uint(ell))
	}
	return out, nil
}

// SendCorrelated runs len(delta) additively correlated OTs over Z_2^ell:
// it returns the sender's random x[i]; the receiver gets x[i] + c_i·delta[i]
// mod 2^ell for its choice bit c_i. One message of ell bits per OT goes out
// after the extension matrix comes in.
func (s *Sender) SendCorrelated(delta []uint64, ell int) ([]uint64, error) {
	if err := checkWidth(ell); err != nil {
		return nil, err
	}
	return s.SendCorrelatedWidths(delta, uniform(len(delta), ell))
}

// ReceiveCorrelated is the receiver's side of SendCorrelated.
func (r *Receiver) ReceiveCorrelated(choice []byte, ell int) ([]uint64, error) {
	if err := checkWidth(ell); err != nil {
		return nil, err
	}
	return r.ReceiveCorrelatedWidths(choice, uniform(len(choice), ell))
}

// checkWidths checks n per-OT widths and returns their sum in bits.
func checkWidths(widths []uint8, n int) (int, error) {
	if len(widths) != n {
		return 0, fmt.Errorf("ot: %d OTs and %d widths", n, len(widths))
	}
	total := 0
	for _, w := range widths {
		if err := checkWidth(int(w)); err != nil {
			return 0, err
		}
		total += int(w)
	}
	return total, nil
}

func uniform(n, ell int) []uint8 {
	w := make([]uint8, n)
	for i := range w {
		w[i] = uint8(ell)
	}
	return w
}

// SendCorrelatedWidths is SendCorrelated with a width per OT: OT i works
// modulo 2^widths[i] and costs widths[i] bits (Gilboa's multiplication
// needs ℓ−j bits for bit j).
func (s *Sender) SendCorrelatedWidths(delta []uint64, widths []uint8) ([]uint64, error) {
	total, err := checkWidths(widths, len(delta))
	if err != nil {
		return nil, err
	}
	q, base, err := s.cot(len(delta))
	if err != nil {
		return nil, err
	}
	h0, h1 := rowHashes(q, base, Block{}, &s.sc), rowHashes(q, base, s.delta, &s.sc)
	x := make([]uint64, len(q))
	bw := s.sc.bitWriter(total)
	for i := range q {
		w := uint(widths[i])
		x[i] = h0[i].Lo & mask(w)
		bw.write(x[i]+delta[i]-h1[i].Lo, w)
	}
	if err := s.sendPayload(bw.bytes(), "correlations"); err != nil {
		return nil, err
	}
	return x, nil
}

// ReceiveCorrelatedWidths is the receiver's side of SendCorrelatedWidths.
func (r *Receiver) ReceiveCorrelatedWidths(choice []byte, widths []uint8) ([]uint64, error) {
	p, err := r.PrepareCorrelatedWidths(choice, widths)
	if err != nil {
		return nil, err
	}
	if err := p.Send(); err != nil {
		return nil, err
	}
	return p.Finish()
}

// PendingCorrelated is a correlated receive whose matrix is made and
// whose hashes are computed but which has sent nothing yet
// (Receiver.PrepareCorrelatedWidths): a party can make it while its peer
// makes its own matrix, then send it when the protocol's order allows.
type PendingCorrelated struct {
	r      *Receiver
	msg    []byte
	h      []Block
	choice []byte
	widths []uint8
	total  int
	sent   bool
}

// PrepareCorrelatedWidths is the first part of ReceiveCorrelatedWidths:
// the matrix and the keys, nothing sent. The Receiver may not extend
// again before Send (the matrix is in its scratch); choice and widths
// must not change before Finish.
func (r *Receiver) PrepareCorrelatedWidths(choice []byte, widths []uint8) (*PendingCorrelated, error) {
	total, err := checkWidths(widths, len(choice))
	if err != nil {
		return nil, err
	}
	t, base, msg, err := r.makeCOT(choice)
	if err != nil {
		return nil, err
	}
	// Hashed before the correlations arrive: the sender is busy with its
	// own hashes meanwhile.
	h := rowHashes(t, base, Block{}, &r.sc)
	return &PendingCorrelated{r: r, msg: msg, h: h, choice: choice, widths: widths, total: total}, nil
}

// Send sends the matrix.
func (p *PendingCorrelated) Send() error {
	if p.sent {
		return fmt.Errorf("ot: correlated receive's matrix sent twice")
	}
	p.sent = true
	if err := p.r.c.Send(p.msg); err != nil {
		return fmt.Errorf("ot: sending the extension matrix: %w", err)
	}
	return nil
}

// Finish receives the correlations (after Send) and returns this
// party's values.
func (p *PendingCorrelated) Finish() ([]uint64, error) {
	if !p.sent {
		return nil, fmt.Errorf("ot: correlated receive finished before its matrix was sent")
	}
	br, err := p.r.recvPayload(p.total, "correlations")
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(p.h))
	for i := range p.h {
		w := uint(p.widths[i])
		d := br.read(w)
		out[i] = (p.h[i].Lo + uint64(p.choice[i])*d) & mask(w)
	}
	return out, nil
}

// SendCorrelatedPair is SendCorrelatedWidths with two correlations per OT
// on the same choice bit: OT i gives the receiver x[i] + c_i·d0[i] mod
// 2^w0[i] and y[i] + c_i·d1[i] mod 2^w1[i] (widths 0..64; a zero width
// sends nothing). The two pads are the two halves of the same 128-bit
// hash, independent pseudo-random values, so the pair costs one OT and
// w0 + w1 bits (Gilboa products that share a multiplier share its OTs).
func (s *Sender) SendCorrelatedPair(d0, d1 []uint64, w0, w1 []uint8) (x, y []uint64, err error) {
	n := len(d0)
	total, err := checkPairWidths(n, len(d1), w0, w1)
	if err != nil {
		return nil, nil, err
	}
	q, base, err := s.cot(n)
	if err != nil {
		return nil, nil, err
	}
	h0, h1 := rowHashes(q, base, Block{}, &s.sc), rowHashes(q, base, s.delta, &s.sc)
	x, y = make([]uint64, n), make([]uint64, n)
	bw := s.sc.bitWriter(total)
	for i := range q {
		a, b := uint(w0[i]), uint(w1[i])
		x[i], y[i] = h0[i].Lo&mask(a), h0[i].Hi&mask(b)
		if a > 0 {
			bw.write(x[i]+d0[i]-h1[i].Lo, a)
		}
		if b > 0 {
			bw.write(y[i]+d1[i]-h1[i].Hi, b)
		}
	}
	if err := s.sendPayload(bw.bytes(), "correlations"); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

// ReceiveCorrelatedPair is the receiver's side of SendCorrelatedPair.
func (r *Receiver) ReceiveCorrelatedPair(choice []byte, w0, w1 []uint8) (x, y []uint64, err error) {
	total, err := checkPairWidths(len(choice), len(choice), w0, w1)
	if err != nil {
		return nil, nil, err
	}
	t, base, err := r.cot(choice)
	if err != nil {
		return nil, nil, err
	}
	h := rowHashes(t, base, Block{}, &r.sc) // before the peer's message, as above
	br, err := r.recvPayload(total, "correlations")
	if err != nil {
		return nil, nil, err
	}
	x, y = make([]uint64, len(t)), make([]uint64, len(t))
	for i := range t {
		a, b := uint(w0[i]), uint(w1[i])
		c := uint64(choice[i])
		if a > 0 {
			x[i] = (h[i].Lo + c*br.read(a)) & mask(a)
		}
		if b > 0 {
			y[i] = (h[i].Hi + c*br.read(b)) & mask(b)
		}
	}
	return x, y, nil
}

// checkPairWidths checks the pair's sizes and widths (0..64) and returns
// the payload bits.
func checkPairWidths(n, n1 int, w0, w1 []uint8) (int, error) {
	if n1 != n || len(w0) != n || len(w1) != n {
		return 0, fmt.Errorf("ot: %d OTs with %d second correlations and %d, %d widths", n, n1, len(w0), len(w1))
	}
	total := 0
	for i := range w0 {
		if w0[i] > 64 || w1[i] > 64 {
			return 0, fmt.Errorf("ot: OT %d has widths %d and %d, want 0..64", i, w0[i], w1[i])
		}
		total += int(w0[i]) + int(w1[i])
	}
	return total, nil
}
