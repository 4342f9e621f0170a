package serve

import (
	"fmt"
	"strings"

	"github.com/autorep/autorep/serve/dealer"
)

// WriteClientToken writes a new client token (32 random bytes, hex, mode
// 0600: dealer.WriteSecretFile) to path and returns its token-file line
// (TokenLine: the hash only, the server never holds the token). A name the
// token file would refuse is an error before anything is written.
func WriteClientToken(path, name string) (line string, err error) {
	if _, err := ParseClients(strings.NewReader(TokenLine(name, nil)), Quota{}); err != nil {
		return "", fmt.Errorf("--client-name %q: letters, digits and ._@- only, at most 64", name)
	}
	if err := dealer.WriteSecretFile(path, 32); err != nil {
		return "", err
	}
	tok, err := dealer.ReadSecretFile(path)
	if err != nil {
		return "", err
	}
	return TokenLine(name, tok), nil
}

// ReadClientToken reads a client's token file (a secret file, see
// dealer.ReadSecretFile) for ClientConfig.Token: at most MaxToken bytes.
func ReadClientToken(path string) ([]byte, error) {
	tok, err := dealer.ReadSecretFile(path)
	if err != nil {
		return nil, err
	}
	if len(tok) > MaxToken {
		return nil, fmt.Errorf("token of %d bytes, at most %d", len(tok), MaxToken)
	}
	return tok, nil
}
