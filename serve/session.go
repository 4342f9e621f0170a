// Package serve runs autorep's private inference as network services: the
// model server (Server, `autorep serve`) and its clients (Dial, Session,
// `autorep infer`), over TLS connections (package serve/secnet), in one of
// pi's protocol suites: "dealer" (correlated randomness from the network
// dealer, package serve/dealer, `autorep dealer`) or "twoparty" (no third
// party: OT and HE between the two parties).
//
// Session protocol (framed transport.Conn client → server, TLS unless
// --insecure on loopback):
//
//  1. client → server: "ASH1", the protocol version byte, the 32-byte
//     public-plan hash it expects (all zero: "send me the plan"), the
//     suite it insists on (one length byte and the name; empty: any), and
//     its client token (one length byte, at most MaxToken, and the token;
//     empty: none), checked first by a server with Server.Clients;
//  2. server → client: "ASER" and a reason (unsupported version, hash or
//     suite mismatch, busy, dealer unreachable) and the connection
//     closes, or "ASOK", the 16-byte random session id, the suite the
//     server runs (one length byte and the name), the uvarint-prefixed
//     dealer address the server uses (dealer suite only; empty otherwise),
//     the client's dealer join ticket (one length byte, 0 or 32, and the
//     ticket the server issued under the key it shares with the dealer),
//     the server's dealer session tag (one length byte, 0 or 32, and
//     dealer.Remote.Tag: the client compares it with the tag its own
//     join answered, so parties that reached different dealer sessions
//     stop before setup instead of computing wrong logits), the
//     session's limits (uvarints: inferences per session, idle timeout
//     in ms; 0: none), and the public plan's JSON (the client checks it
//     against the hash it expects, if any). The suite is settled here,
//     before anything depends on it, as a TLS cipher suite is. A busy
//     server's refusal says when to retry ("server busy ...; retry after
//     5s", BusyError);
//  3. dealer suite: both parties join the dealer session with that id
//     (each id once per party; replays are refused by the dealer); the
//     client joins only a dealer it chose itself (ClientConfig.Dealer) or
//     one it was told to trust (ClientConfig.TrustServerDealer), since a
//     dealer the server controls learns the client's input masks; then
//     client → server: "ASTG" and the 32-byte dealer session tag the
//     client's join answered, which the server compares with its own
//     (each side stops on a mismatch, ErrDealerSession);
//  4. both run pi's protocol on the same connection: pi's own handshake
//     (hash and suite checked again), the once-per-session setup (twoparty:
//     base OTs and HE keys), any number of inference requests.
//
// Offline/online split (dealer suite): the server keeps a pool of sessions
// whose dealer material (setup and one single-image inference) is fetched
// before any client arrives (DealerConfig.Pool); a client prefetches its
// material for Pool inferences when it connects; so an inference's online
// phase (input to logits) does no dealer work. Twoparty suite: nothing can
// be made before the client's keys arrive, but a client with Pool ≥ 1
// runs an inference's offline phase (the HE work on masks) right after
// the session's setup and each next one between inferences (pi's prepare,
// Session.Prepare; one held per session, within MaxImages), so the
// inference, when its image comes, runs the online phase only. Every read has a deadline;
// a failing client or dealer connection ends only its own session.
package serve

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/transport"
)

// Version is the session protocol version (2: the suite in hello and
// answer; 3: the dealer session tag in the answer, the client token in
// the hello; 4: the client's dealer session tag to the server; 5: pi's
// prepare message, which a server of version 4 takes for a malformed
// request).
const Version = 5

// Message tags.
const (
	tagHello = "ASH1"
	tagOK    = "ASOK"
	tagError = "ASER"
	tagTag   = "ASTG" // the client's dealer session tag
)

// tagMessage is the client's dealer session tag message.
func tagMessage(tag dealer.SessionTag) []byte { return append([]byte(tagTag), tag[:]...) }

// recvTag reads the client's dealer session tag and compares it with the
// server's own (checkTag).
func recvTag(conn transport.Conn, server []byte) error {
	b, err := transport.RecvMax(conn, len(tagTag)+len(dealer.SessionTag{}))
	if err != nil {
		return fmt.Errorf("waiting for the client's dealer session tag: %w", err)
	}
	var client dealer.SessionTag
	if len(b) != len(tagTag)+len(client) || string(b[:len(tagTag)]) != tagTag {
		return fmt.Errorf("malformed dealer session tag message (%d bytes)", len(b))
	}
	copy(client[:], b[len(tagTag):])
	return checkTag(server, client)
}

// maxSuite bounds a suite name on the wire.
const maxSuite = 32

const helloMin = len(tagHello) + 1 + 32 + 1

// maxHello bounds a hello frame, read under this limit.
const maxHello = helloMin + maxSuite + 1 + MaxToken

func clientHello(hash [32]byte, suite string, token []byte) []byte {
	b := append([]byte(tagHello), Version)
	b = append(b, hash[:]...)
	b = append(b, byte(len(suite)))
	b = append(b, suite...)
	b = append(b, byte(len(token)))
	return append(b, token...)
}

// parseClientHello returns the hash (zero: none) and suite ("": any) a
// client expects, and its token (nil: none).
func parseClientHello(b []byte) (h [32]byte, suite string, token []byte, err error) {
	if len(b) < len(tagHello)+1 || string(b[:4]) != tagHello {
		return h, "", nil, fmt.Errorf("malformed hello (%d bytes)", len(b))
	}
	if b[4] != Version {
		return h, "", nil, fmt.Errorf("unsupported protocol version %d (this server speaks %d)", b[4], Version)
	}
	malformed := fmt.Errorf("malformed hello (%d bytes)", len(b))
	if len(b) < helloMin || int(b[helloMin-1]) > maxSuite || len(b) < helloMin+int(b[helloMin-1])+1 {
		return h, "", nil, malformed
	}
	copy(h[:], b[5:])
	rest := b[helloMin:]
	suite, rest = string(rest[:b[helloMin-1]]), rest[b[helloMin-1]:]
	if int(rest[0]) > MaxToken || len(rest) != 1+int(rest[0]) {
		return h, "", nil, malformed
	}
	if rest[0] > 0 {
		token = rest[1:]
	}
	return h, suite, token, nil
}

// maxAddr bounds the advertised dealer address.
const maxAddr = 512

// okAnswer is the server's acceptance of a hello.
type okAnswer struct {
	sid    dealer.SessionID
	suite  string
	dealer string // dealer suite: the address the server advertises
	ticket []byte // dealer suite: the client's join ticket (none or dealer.Ticket)
	tag    []byte // dealer suite: the server's dealer session tag (dealer.SessionTag)
	limits sessionLimits
	plan   []byte // the public plan's JSON
}

// sessionLimits are what a server allows one session (0: no limit).
type sessionLimits struct {
	inferences uint64 // inference requests
	idleMS     uint64 // time between requests, in ms
}

func (a okAnswer) encode() []byte {
	b := append([]byte(tagOK), a.sid[:]...)
	b = append(b, byte(len(a.suite)))
	b = append(b, a.suite...)
	b = binary.AppendUvarint(b, uint64(len(a.dealer)))
	b = append(b, a.dealer...)
	b = append(b, byte(len(a.ticket)))
	b = append(b, a.ticket...)
	b = append(b, byte(len(a.tag)))
	b = append(b, a.tag...)
	b = binary.AppendUvarint(b, a.limits.inferences)
	b = binary.AppendUvarint(b, a.limits.idleMS)
	return append(b, a.plan...)
}

// busyReason is a busy server's refusal.
func busyReason(sessions int, retry time.Duration) string {
	return fmt.Sprintf("server busy (all %d sessions taken)%s%v", sessions, retryAfter, retry)
}

const retryAfter = "; retry after "

// BusyError is a busy server's refusal of a session: try again after
// RetryAfter.
type BusyError struct {
	RetryAfter time.Duration
	Reason     string
}

func (e *BusyError) Error() string { return "server refused: " + e.Reason }

func parseOK(b []byte) (a okAnswer, err error) {
	if reason, ok := frame.Reason(tagError, b); ok {
		if i := strings.LastIndex(reason, retryAfter); i >= 0 && strings.HasPrefix(reason, "server busy") {
			if d, err := time.ParseDuration(reason[i+len(retryAfter):]); err == nil && d >= 0 {
				return a, &BusyError{RetryAfter: d, Reason: reason}
			}
		}
		return a, fmt.Errorf("server refused: %s", reason)
	}
	malformed := fmt.Errorf("malformed answer to hello (%d bytes)", len(b))
	if len(b) < 4+len(a.sid)+1 || string(b[:4]) != tagOK {
		return a, malformed
	}
	copy(a.sid[:], b[4:])
	rest := b[4+len(a.sid):]
	ns := int(rest[0])
	if ns > maxSuite || len(rest) < 1+ns {
		return a, malformed
	}
	a.suite, rest = string(rest[1:1+ns]), rest[1+ns:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxAddr || uint64(len(rest)-k) < n {
		return a, malformed
	}
	a.dealer, rest = string(rest[k:k+int(n)]), rest[k+int(n):]
	if len(rest) < 1 || rest[0] != 0 && int(rest[0]) != len(dealer.Ticket{}) || len(rest) < 1+int(rest[0]) {
		return a, malformed
	}
	if rest[0] > 0 {
		a.ticket = rest[1 : 1+rest[0]]
	}
	rest = rest[1+int(rest[0]):]
	if len(rest) < 1 || rest[0] != 0 && int(rest[0]) != len(dealer.SessionTag{}) || len(rest) < 1+int(rest[0]) {
		return a, malformed
	}
	if rest[0] > 0 {
		a.tag = rest[1 : 1+rest[0]]
	}
	rest = rest[1+int(rest[0]):]
	for _, v := range []*uint64{&a.limits.inferences, &a.limits.idleMS} {
		if *v, k = binary.Uvarint(rest); k <= 0 {
			return a, malformed
		}
		rest = rest[k:]
	}
	a.plan = rest
	return a, nil
}
