package ot

import (
	"fmt"

	"github.com/autorep/autorep/transport"
)

// Config chooses a session's OT extensions.
type Config struct {
	// K is the SoftSpoken parameter of both 1-out-of-2 extensions
	// (1..MaxSoftSpokenK: ⌈128/K⌉ bits per OT); 0 selects IKNP (128 bits).
	K int
	// KK makes 1-out-of-N OT by Kolesnikov–Kumaresan (256 bits per OT,
	// SHA-256 keys; kk.go) instead of from ⌈log2 N⌉ COTs (ncot.go).
	KK bool
}

// DefaultConfig is what NewSession uses: SoftSpoken with k = 8 (2 bytes per
// correlated OT) and 1-out-of-N from COTs. Measured choice
// (docs/BENCHMARKS.md, "bench gates"): fewer bytes than any smaller k or
// IKNP for every gate, and the ReLU is faster than with IKNP or KK13.
var DefaultConfig = Config{K: 8}

func (c Config) check() error {
	if c.K != 0 {
		return checkSoftSpokenK(c.K)
	}
	return nil
}

// String names the configuration ("softspoken k=8", "iknp+kk13", …).
func (c Config) String() string {
	s := "iknp"
	if c.K != 0 {
		s = fmt.Sprintf("softspoken k=%d", c.K)
	}
	if c.KK {
		s += "+kk13"
	}
	return s
}

// Session holds one party's OT state for both directions between two
// parties: Send/Recv are this party's sides of the two 1-out-of-2
// extensions (this party is the sender of one and the receiver of the
// other). 1-out-of-N OTs go through SendN/ReceiveN; with Config.KK, NSend
// and NRecv are this party's sides of the two Kolesnikov–Kumaresan
// extensions (nil otherwise).
type Session struct {
	Party  int
	Config Config
	Send   *Sender
	Recv   *Receiver
	NSend  *NSender
	NRecv  *NReceiver
}

// NewSession sets up a session over c with DefaultConfig. party is 0 or
// 1; the two parties must pass different values.
func NewSession(c transport.Conn, party int) (*Session, error) {
	return NewSessionConfig(c, party, DefaultConfig)
}

// NewSessionConfig sets up a session with the given extensions (both
// parties must pass the same cfg): 2·128 base OTs (one batch each way, two
// round trips), with SoftSpoken one tree message each way, and with KK
// 2·256 random OTs for the 1-out-of-N extensions.
func NewSessionConfig(c transport.Conn, party int, cfg Config) (*Session, error) {
	if party != 0 && party != 1 {
		return nil, fmt.Errorf("ot: party %d, want 0 or 1", party)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Session{Party: party, Config: cfg}
	var err error
	// Party 0's extensions are set up first; each step is one-directional
	// so the order is what makes the two sides meet.
	sendFirst := party == 0
	for step := range 2 {
		if (step == 0) == sendFirst {
			s.Send, err = NewSenderK(c, cfg.K)
		} else {
			s.Recv, err = NewReceiverK(c, cfg.K)
		}
		if err != nil {
			return nil, err
		}
	}
	if !cfg.KK {
		return s, nil
	}
	for step := range 2 {
		if (step == 0) == sendFirst {
			s.NSend, err = NewNSender(s.Recv)
		} else {
			s.NRecv, err = NewNReceiver(s.Send)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SendN runs 1-out-of-nn OTs of ell-bit messages as the sender (layout of
// NSender.Send: OT i's message y at msgs[i·nn+y]), by the configured
// construction.
func (s *Session) SendN(msgs []uint64, nn, ell int) error {
	if s.NSend != nil {
		return s.NSend.Send(msgs, nn, ell)
	}
	return NewCNSender(s.Send).Send(msgs, nn, ell)
}

// ReceiveN is the receiver's side of SendN.
func (s *Session) ReceiveN(choice []uint8, nn, ell int) ([]uint64, error) {
	if s.NRecv != nil {
		return s.NRecv.Receive(choice, nn, ell)
	}
	return NewCNReceiver(s.Recv).Receive(choice, nn, ell)
}
