package ot

// scratch holds one extension side's working buffers, reused from call
// to call so that a batch of OTs allocates only what it returns or sends
// (a Sender or Receiver is used by one goroutine at a time).
type scratch struct {
	cols []uint64 // the 128 columns, one slab
	aux  []uint64 // a column's worth of correction words
	rows []Block  // the transposed rows (cot's result, valid until the next call)
	tmp  []Block  // π(x) in tccrBlocks
	tw   []Block  // tweaks
	msg  []byte   // the outgoing message (a Conn does not keep it after Send)
	pend []Block  // rows of a 1-of-N OT split between two chunks (ncot.go)
}

// bitWriter returns a bitWriter for a message of bits bits in sc.msg.
func (sc *scratch) bitWriter(bits int) *bitWriter {
	if need := (bits + 7) / 8; cap(sc.msg) < need {
		sc.msg = make([]byte, 0, need)
	}
	return &bitWriter{buf: sc.msg[:0]}
}

// grow returns (*b)[:n], reallocating when the capacity is short; the
// contents are not cleared.
func grow[T any](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	return (*b)[:n]
}

// columnsOf points cols[j] at consecutive w-word pieces of slab, not
// cleared: both extensions overwrite every column.
func columnsOf(cols *[Kappa][]uint64, slab *[]uint64, w int) {
	s := grow(slab, Kappa*w)
	for j := range cols {
		cols[j] = s[j*w : (j+1)*w : (j+1)*w]
	}
}
