// Package serve runs autorep's private inference as network services: the
// model server (Server, `autorep serve`) and its clients (Dial, Session,
// `autorep infer`), with correlated randomness from the network dealer
// (package serve/dealer, `autorep dealer`) over TLS connections (package
// serve/secnet).
//
// Session protocol (framed transport.Conn client → server, TLS unless
// --insecure on loopback):
//
//  1. client → server: "ASH1", the protocol version byte, the 32-byte
//     public-plan hash it expects (all zero: "send me the plan");
//  2. server → client: "ASER" and a reason (unsupported version, hash
//     mismatch, busy, dealer unreachable) and the connection closes, or
//     "ASOK", the 16-byte random session id, the uvarint-prefixed dealer
//     address the server uses, and the public plan's JSON (the client
//     checks it against the hash it expects, if any);
//  3. both parties join the dealer session with that id (each id once per
//     party; replays are refused by the dealer), then run pi's protocol on
//     the same connection: pi's own handshake (hash check again), the
//     once-per-session setup, any number of inference requests.
//
// Offline/online split: the server keeps a pool of sessions whose dealer
// material (setup and one single-image inference) is fetched before any
// client arrives (Server.Pool); a client prefetches its material for
// Pool inferences when it connects; so an inference's online phase (input
// to logits) does no dealer work. Every read has a deadline; a failing
// client or dealer connection ends only its own session.
package serve

import (
	"encoding/binary"
	"fmt"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/serve/dealer"
)

// Version is the session protocol version.
const Version = 1

// Message tags.
const (
	tagHello = "ASH1"
	tagOK    = "ASOK"
	tagError = "ASER"
)

const helloLen = len(tagHello) + 1 + 32

func clientHello(hash [32]byte) []byte {
	b := append([]byte(tagHello), Version)
	return append(b, hash[:]...)
}

// parseClientHello returns the hash a client expects (zero: none).
func parseClientHello(b []byte) ([32]byte, error) {
	var h [32]byte
	if len(b) < len(tagHello)+1 || string(b[:4]) != tagHello {
		return h, fmt.Errorf("malformed hello (%d bytes)", len(b))
	}
	if b[4] != Version {
		return h, fmt.Errorf("unsupported protocol version %d (this server speaks %d)", b[4], Version)
	}
	if len(b) != helloLen {
		return h, fmt.Errorf("malformed hello (%d bytes)", len(b))
	}
	copy(h[:], b[5:])
	return h, nil
}

// maxAddr bounds the advertised dealer address.
const maxAddr = 512

func okMessage(sid dealer.SessionID, dealerAddr string, plan []byte) []byte {
	b := append([]byte(tagOK), sid[:]...)
	b = binary.AppendUvarint(b, uint64(len(dealerAddr)))
	b = append(b, dealerAddr...)
	return append(b, plan...)
}

func parseOK(b []byte) (sid dealer.SessionID, dealerAddr string, plan []byte, err error) {
	if reason, ok := frame.Reason(tagError, b); ok {
		return sid, "", nil, fmt.Errorf("server refused: %s", reason)
	}
	if len(b) < 4+len(sid)+1 || string(b[:4]) != tagOK {
		return sid, "", nil, fmt.Errorf("malformed answer to hello (%d bytes)", len(b))
	}
	copy(sid[:], b[4:])
	rest := b[4+len(sid):]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxAddr || uint64(len(rest)-k) < n {
		return sid, "", nil, fmt.Errorf("malformed answer to hello")
	}
	dealerAddr = string(rest[k : k+int(n)])
	return sid, dealerAddr, rest[k+int(n):], nil
}
