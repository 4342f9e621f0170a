// Package dealer is autorep's network dealer: a process that both parties
// of a private inference connect to and that hands each its half of the
// correlated randomness (corr.Material) of one session, and the
// party-side corr.Provider that talks to it.
//
// Protocol (framed transport.Conn, TLS unless --insecure). A party opens a
// connection per session and sends a hello: "ADH1", the protocol version
// byte, its party byte (0 server, 1 client), the 16-byte session id, the
// 32-byte public-plan hash and a 32-byte join ticket (zero: none; see
// Ticket). The dealer answers "ADOK" and the session's 32-byte tag (the
// same for both parties of a session, different for every session and
// dealer: see SessionTag), or "ADER" and a reason. Both parties of a
// session present the same id and hash; each id can be joined once per
// party and never again after the session ends (a replayed id is refused),
// and its material comes from a fresh dealer.Pairing, so masks are never shared
// between sessions. Then each frame from the party is either an
// corr.Request (corr.Request.MarshalBinary, answered in order by the
// party's corr.Material.MarshalBinary or an "ADER" error frame after which
// the dealer closes the connection) or a ping "ADPG" (answered "ADPG").
// The dealer never sees weights or inputs: only the public shapes in the
// requests.
//
// Admission (see Server): the server role may be reserved to peers with a
// client certificate of the dealer's --server-ca, the client role (and the
// server role without certificates) to holders of a ticket; every request
// is bounded (elements, multiply-adds, bytes) and every session's work
// (unclaimed material, generation time, idle time) before anything is
// generated.
package dealer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
)

// Version is the dealer protocol version (2: the ticket in the hello and
// the session tag in the answer).
const Version = 2

// Message tags.
const (
	tagHello = "ADH1"
	tagOK    = "ADOK"
	tagError = "ADER"
	tagPing  = "ADPG"
)

// helloLen is the length of a hello message, okLen of the dealer's "ADOK"
// answer.
const (
	helloLen = len(tagHello) + 2 + len(SessionID{}) + 32 + len(Ticket{})
	okLen    = len(tagOK) + len(SessionTag{})
)

// maxRequestFrame bounds a request frame (corr.Request.MarshalBinary):
// magic, kind, a label of at most 4 KiB with its length, 18 uvarints of at
// most 10 bytes, the mask flag and a mask of at most corr.MaxMaterialElems
// bits. A longer frame is refused from its header.
const maxRequestFrame = 4 + 1 + 2 + 4<<10 + 18*10 + 1 + corr.MaxMaterialElems/8

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

// SessionTag is what the dealer answers both parties of one session: 32
// bytes from crypto/rand drawn when the session is created. Two parties
// that reached the same session of the same dealer hold the same tag;
// parties that reached different dealers (two replicas behind one name, a
// wrong address) or different sessions hold different tags with
// overwhelming probability. The parties compare their tags (Provider.Tag)
// before setup and stop on a mismatch (issue 19, finding 6): otherwise
// the protocol would run on unrelated material and give wrong logits
// silently. The tag is not secret.
type SessionTag [32]byte

// String is the tag in hex.
func (t SessionTag) String() string { return hex.EncodeToString(t[:]) }

// hello is a party's hello.
type helloMsg struct {
	party  byte
	sid    SessionID
	hash   [32]byte
	ticket Ticket
}

// encode encodes the hello.
func (h helloMsg) encode() []byte {
	b := make([]byte, 0, helloLen)
	b = append(b, tagHello...)
	b = append(b, Version, h.party)
	b = append(b, h.sid[:]...)
	b = append(b, h.hash[:]...)
	return append(b, h.ticket[:]...)
}

// parseHello decodes a hello.
func parseHello(b []byte) (h helloMsg, err error) {
	if len(b) < len(tagHello)+1 || string(b[:4]) != tagHello {
		return h, fmt.Errorf("malformed hello (%d bytes)", len(b))
	}
	if b[4] != Version {
		return h, fmt.Errorf("protocol version %d, this dealer speaks %d", b[4], Version)
	}
	if len(b) != helloLen {
		return h, fmt.Errorf("malformed hello (%d bytes)", len(b))
	}
	h.party = b[5]
	if h.party > 1 {
		return h, fmt.Errorf("invalid party %d", h.party)
	}
	b = b[6:]
	b = b[copy(h.sid[:], b):]
	b = b[copy(h.hash[:], b):]
	copy(h.ticket[:], b)
	return h, nil
}

// Ticket admits one party to one session of a dealer that has a ticket
// key (Server.TicketKey): HMAC-SHA256 under that key of the label
// "autorep dealer ticket v1", the party byte, the session id and the
// public-plan hash. The model server holds the same key (read from a file,
// never a flag), draws the session id, and hands the client its ticket
// with the session's other parameters (serve's hello answer); the dealer
// recomputes it from the hello and refuses a mismatch before anything is
// generated. A ticket is bound to its session, role and plan: it cannot
// admit its holder to another session or as the other party, and the
// session id is single-use (a replay is refused), so a leaked ticket is
// worth one join of a session nobody else joined in that role. The zero
// Ticket means none.
type Ticket [32]byte

// IssueTicket returns the ticket of party p for session sid with the
// public-plan hash under key (see Ticket). key must hold at least
// MinTicketKey bytes.
func IssueTicket(key []byte, p mpc.Party, sid SessionID, hash [32]byte) (Ticket, error) {
	var t Ticket
	if len(key) < MinTicketKey {
		return t, fmt.Errorf("dealer: ticket key of %d bytes, want at least %d", len(key), MinTicketKey)
	}
	if !p.Valid() {
		return t, fmt.Errorf("dealer: invalid party %d", int(p))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("autorep dealer ticket v1"))
	mac.Write([]byte{byte(p)})
	mac.Write(sid[:])
	mac.Write(hash[:])
	copy(t[:], mac.Sum(nil))
	return t, nil
}

// MinTicketKey is the shortest ticket key accepted: 32 bytes (256 bits,
// HMAC-SHA256's full strength).
const MinTicketKey = 32

// ErrTicket is returned (and sent to the party) for a hello without a
// valid ticket where the dealer requires one.
var ErrTicket = errors.New("no valid join ticket for this session and role")

// VerifyTicket checks in constant time that t is party p's ticket for
// session sid with the plan hash under key.
func VerifyTicket(key []byte, p mpc.Party, sid SessionID, hash [32]byte, t Ticket) error {
	want, err := IssueTicket(key, p, sid, hash)
	if err != nil {
		return err
	}
	if t == (Ticket{}) || !hmac.Equal(want[:], t[:]) {
		return ErrTicket
	}
	return nil
}
