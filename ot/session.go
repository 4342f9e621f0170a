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
	// KMul, when neither 0 nor K, gives the session a second pair of
	// 1-out-of-2 extensions with SoftSpoken parameter KMul for the
	// multiplications (MulSend, MulRecv): their OTs carry long payloads,
	// so fewer correction bits per OT pay there for more PRG work, while
	// the comparisons' many short OTs run faster with a smaller K.
	KMul int
	// KK makes 1-out-of-N OT by Kolesnikov–Kumaresan (256 bits per OT,
	// SHA-256 keys; kk.go) instead of from ⌈log2 N⌉ COTs (ncot.go).
	KK bool
	// Ferret, when set, makes both directions' COTs by Ferret silent OT
	// (ferret.go) with this parameter set, bootstrapped from the K
	// extension, which also serves what a cold buffer cannot: a COT then
	// costs its receiver one bit plus its share of the iterations. KMul
	// is ignored (the multiplications use the same COTs).
	Ferret FerretParams
}

// DefaultConfig is what NewSession uses: SoftSpoken with k = 4 (4 bytes per
// correlated OT) for comparisons, k = 8 (2 bytes) for multiplications, and
// 1-out-of-N from COTs. Measured choice (docs/BENCHMARKS.md, "bench
// gates"): at ℓ = 32 a ReLU over k = 4 runs about 1.7 times as fast as
// over k = 8 for 293 instead of 197 bytes, while a square needs k = 8 to
// stay within 133 bytes with its truncation.
var DefaultConfig = Config{K: 4, KMul: 8}

func (c Config) check() error {
	if _, ok := ferretSets[c.Ferret]; c.Ferret != NoFerret && (!ok || c.Ferret == ferretTiny && !allowTinyFerret) {
		return fmt.Errorf("ot: Ferret parameter set %v", c.Ferret)
	}
	for _, k := range []int{c.K, c.KMul} {
		if k != 0 {
			if err := checkSoftSpokenK(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// String names the configuration ("softspoken k=8", "iknp+kk13", …).
func (c Config) String() string {
	s := "iknp"
	if c.K != 0 {
		s = fmt.Sprintf("softspoken k=%d", c.K)
	}
	if c.Ferret != NoFerret {
		s = fmt.Sprintf("ferret %v from %s", c.Ferret, s)
	} else if c.KMul != 0 && c.KMul != c.K {
		s += fmt.Sprintf(", mul k=%d", c.KMul)
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
	// MulSend and MulRecv are the multiplication extensions (Config.KMul;
	// Send and Recv themselves when KMul is 0 or K).
	MulSend *Sender
	MulRecv *Receiver
}

// NewSession sets up a session over c with DefaultConfig. party is 0 or
// 1; the two parties must pass different values.
func NewSession(c transport.Conn, party int) (*Session, error) {
	return NewSessionConfig(c, party, DefaultConfig)
}

// NewSessionConfig sets up a session with the given extensions (both
// parties must pass the same cfg): 2·128 base OTs (one batch each way, two
// round trips), with SoftSpoken one tree message each way, with Ferret
// its bootstrap each way (the first reserve's COTs from the extension,
// for FerretLarge one small iteration; 620 KB in all for FerretSmall,
// 1.02 MB for FerretLarge, with k = 4), and with KK 2·256 random OTs for
// the 1-out-of-N extensions.
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
	pair := func(k int) (snd *Sender, rcv *Receiver, err error) {
		for step := range 2 {
			if (step == 0) == sendFirst {
				snd, err = NewSenderK(c, k)
			} else {
				rcv, err = NewReceiverK(c, k)
			}
			if err != nil {
				return nil, nil, err
			}
		}
		return snd, rcv, nil
	}
	if s.Send, s.Recv, err = pair(cfg.K); err != nil {
		return nil, err
	}
	s.MulSend, s.MulRecv = s.Send, s.Recv
	if cfg.Ferret != NoFerret {
		for step := range 2 {
			if (step == 0) == sendFirst {
				err = setupFerretSender(s.Send, cfg.Ferret)
			} else {
				err = setupFerretReceiver(s.Recv, cfg.Ferret)
			}
			if err != nil {
				return nil, err
			}
		}
	} else if cfg.KMul != 0 && cfg.KMul != cfg.K {
		if s.MulSend, s.MulRecv, err = pair(cfg.KMul); err != nil {
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

// SendNWidths is SendN with a message width per OT (CNSender.SendWidths).
func (s *Session) SendNWidths(msgs []uint64, nn int, widths []uint8) error {
	if s.NSend != nil {
		return s.NSend.SendWidths(msgs, nn, widths)
	}
	return NewCNSender(s.Send).SendWidths(msgs, nn, widths)
}

// PrepareSendN is the first half of SendNWidths: it receives the
// matrix (CNSender.Prepare).
func (s *Session) PrepareSendN(nn int, widths []uint8) (*Outgoing, error) {
	if s.NSend != nil {
		return s.NSend.Prepare(nn, widths)
	}
	return NewCNSender(s.Send).Prepare(nn, widths)
}

// StartReceiveNWidths is the receiver's side of SendNWidths, started as
// StartReceiveN is.
func (s *Session) StartReceiveNWidths(choice []uint8, nn int, widths []uint8) (*PendingN, error) {
	if s.NRecv != nil {
		return s.NRecv.StartWidths(choice, nn, widths)
	}
	return NewCNReceiver(s.Recv).StartWidths(choice, nn, widths)
}

// ReceiveN is the receiver's side of SendN.
func (s *Session) ReceiveN(choice []uint8, nn, ell int) ([]uint64, error) {
	p, err := s.StartReceiveN(choice, nn, ell)
	if err != nil {
		return nil, err
	}
	return p.Finish()
}

// StartReceiveN is the first half of ReceiveN: it sends the matrix of
// the receive; the PendingN's Finish receives the messages.
func (s *Session) StartReceiveN(choice []uint8, nn, ell int) (*PendingN, error) {
	if s.NRecv != nil {
		return s.NRecv.Start(choice, nn, ell)
	}
	return NewCNReceiver(s.Recv).Start(choice, nn, ell)
}
