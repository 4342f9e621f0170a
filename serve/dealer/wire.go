// Package dealer is autorep's network dealer: a process that both parties
// of a private inference connect to and that hands each its half of the
// correlated randomness (mpc.Material) of one session, and the
// party-side mpc.Provider that talks to it.
//
// Protocol (framed transport.Conn, TLS unless --insecure). A party opens a
// connection per session and sends a hello: "ADH1", the protocol version
// byte, its party byte (0 server, 1 client), the 16-byte session id and
// the 32-byte public-plan hash. The dealer answers "ADOK" or "ADER" and a
// reason. Both parties of a session present the same id and hash; each
// id can be joined once per party and never again after the session ends
// (a replayed id is refused), and its material comes from a fresh
// mpc.Hub, so masks are never shared between sessions. Then each frame
// from the party is either an mpc.Request (mpc.Request.MarshalBinary,
// answered in order by the party's mpc.Material.MarshalBinary or an
// "ADER" error frame after which the dealer closes the connection) or a
// ping "ADPG" (answered "ADPG"). The dealer never sees weights or inputs:
// only the public shapes in the requests.
package dealer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/autorep/autorep/mpc"
)

// Version is the dealer protocol version.
const Version = 1

// Message tags.
const (
	tagHello = "ADH1"
	tagOK    = "ADOK"
	tagError = "ADER"
	tagPing  = "ADPG"
)

// helloLen is the length of a hello message.
const helloLen = len(tagHello) + 2 + len(SessionID{}) + 32

// maxRequestFrame bounds a request frame (mpc.Request.MarshalBinary):
// magic, kind, a label of at most 4 KiB with its length, 18 uvarints of at
// most 10 bytes, the mask flag and a mask of at most mpc.MaxMaterialElems
// bits. A longer frame is refused from its header.
const maxRequestFrame = 4 + 1 + 2 + 4<<10 + 18*10 + 1 + mpc.MaxMaterialElems/8

// SessionID names one session at the dealer: random, chosen by the model
// server, presented by both parties.
type SessionID [16]byte

// NewSessionID returns a random session id from crypto/rand.
func NewSessionID() (SessionID, error) {
	var s SessionID
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("dealer: session id: %w", err)
	}
	return s, nil
}

// String is the id in hex.
func (s SessionID) String() string { return hex.EncodeToString(s[:]) }

// hello encodes a party's hello.
func hello(party byte, sid SessionID, hash [32]byte) []byte {
	b := make([]byte, 0, helloLen)
	b = append(b, tagHello...)
	b = append(b, Version, party)
	b = append(b, sid[:]...)
	return append(b, hash[:]...)
}

// parseHello decodes a hello.
func parseHello(b []byte) (party byte, sid SessionID, hash [32]byte, err error) {
	if len(b) != helloLen || string(b[:4]) != tagHello {
		return 0, sid, hash, fmt.Errorf("malformed hello (%d bytes)", len(b))
	}
	if b[4] != Version {
		return 0, sid, hash, fmt.Errorf("protocol version %d, this dealer speaks %d", b[4], Version)
	}
	party = b[5]
	if party > 1 {
		return 0, sid, hash, fmt.Errorf("invalid party %d", party)
	}
	copy(sid[:], b[6:22])
	copy(hash[:], b[22:])
	return party, sid, hash, nil
}
