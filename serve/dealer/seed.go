package dealer

import (
	"encoding/hex"
	"errors"
	"fmt"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"io"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
)

// SeededGenerator returns the generator a dealer listening on listen serves
// from: random when neither seedHex (the deprecated `dealer --seed`: hex
// on the command line) nor seedFile (`--seed-file`: a secret file, see
// ReadSecretFile) is given, else the fixed seed, which is refused on any
// but a loopback address (anyone who knows it recomputes every weight and
// input mask of every session). Warnings about a fixed or deprecated seed
// go to warn (nil: none); errors name the flags.
func SeededGenerator(listen, seedHex, seedFile string, warn io.Writer) (*mpcdealer.Generator, error) {
	if seedHex == "" && seedFile == "" {
		return mpcdealer.NewRandomGenerator()
	}
	if seedHex != "" && seedFile != "" {
		return nil, errors.New("give --seed-file or --seed, not both")
	}
	if warn == nil {
		warn = io.Discard
	}
	name := "--seed-file"
	if seedHex != "" {
		name = "--seed"
	}
	if secnet.CheckLoopback(listen) != nil {
		return nil, fmt.Errorf("%s is for tests only and needs a loopback --listen address (127.0.0.1, ::1 or localhost), not %q: anyone knowing the seed knows every mask", name, listen)
	}
	var b []byte
	if seedHex != "" {
		var err error
		if b, err = hex.DecodeString(seedHex); err != nil {
			b = nil // reported as the wrong length below
		}
		fmt.Fprintln(warn, "dealer: WARNING: --seed is deprecated (command lines are visible to every user); use --seed-file")
	} else {
		var err error
		if b, err = ReadSecretFile(seedFile); err != nil {
			return nil, fmt.Errorf("--seed-file: %w", err)
		}
	}
	var s ring.Seed
	if len(b) != len(s) {
		return nil, fmt.Errorf("%s: want %d hex digits", name, 2*len(s))
	}
	copy(s[:], b)
	fmt.Fprintln(warn, "dealer: WARNING: fixed seed, for tests only")
	return mpcdealer.NewGenerator(s), nil
}

// ReadTicketKey reads the join-ticket key file given to flag (nil if path
// is empty): a secret file (ReadSecretFile) of at least MinTicketKey
// bytes; gen names the flag that writes one.
func ReadTicketKey(flag, path, gen string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	tk, err := ReadSecretFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if len(tk) < MinTicketKey {
		return nil, fmt.Errorf("%s: %d bytes, want at least %d (%s writes one)", flag, len(tk), MinTicketKey, gen)
	}
	return tk, nil
}
