package helinear

import (
	"testing"

	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// TestHostileKeySize: the server's first receive, the client's public and
// Galois keys, takes exactly their size: a longer, shorter or empty
// message, or a bare 2^31- or 512 MiB header, fails with an error naming
// the step, the header refused unread (issue 19, finding 5).
func TestHostileKeySize(t *testing.T) {
	const ell = 28
	p, err := NewParams(ell)
	if err != nil {
		t.Fatal(err)
	}
	want := p.keysMsgBytes()
	transporttest.Check(t, "receiving public key", want, func(c transport.Conn) error {
		_, err := NewServer(c, ell)
		return err
	})
}
