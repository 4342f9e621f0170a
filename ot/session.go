package ot

import (
	"fmt"

	"github.com/autorep/autorep/transport"
)

// Session holds one party's OT state for both directions between two
// parties: Send/Recv are this party's sides of the two IKNP extensions
// (this party is the sender of one and the receiver of the other), NSend
// and NRecv its sides of the two 1-out-of-N extensions.
type Session struct {
	Party int
	Send  *Sender
	Recv  *Receiver
	NSend *NSender
	NRecv *NReceiver
}

// NewSession sets up a session over c: 2·128 base OTs (one batch each way,
// two round trips) and 2·256 random OTs for the 1-out-of-N extensions.
// party is 0 or 1; the two parties must pass different values.
func NewSession(c transport.Conn, party int) (*Session, error) {
	if party != 0 && party != 1 {
		return nil, fmt.Errorf("ot: party %d, want 0 or 1", party)
	}
	s := &Session{Party: party}
	var err error
	// Party 0's extensions are set up first; each step is one-directional
	// so the order is what makes the two sides meet.
	if party == 0 {
		if s.Send, err = NewSender(c); err != nil {
			return nil, err
		}
		if s.Recv, err = NewReceiver(c); err != nil {
			return nil, err
		}
		if s.NSend, err = NewNSender(s.Recv); err != nil {
			return nil, err
		}
		if s.NRecv, err = NewNReceiver(s.Send); err != nil {
			return nil, err
		}
		return s, nil
	}
	if s.Recv, err = NewReceiver(c); err != nil {
		return nil, err
	}
	if s.Send, err = NewSender(c); err != nil {
		return nil, err
	}
	if s.NRecv, err = NewNReceiver(s.Send); err != nil {
		return nil, err
	}
	if s.NSend, err = NewNSender(s.Recv); err != nil {
		return nil, err
	}
	return s, nil
}
