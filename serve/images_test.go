package serve

import (
	"errors"
	"strings"
	"testing"

	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/tensor"
)

// TestMaxImagesDefault: a server with MaxImages unset serves requests of
// one image only (issue 19, finding 4: a batch's material is held at
// once), in both suites. A client that asks for two images anyway (pi's
// client, not serve's, which sends one) is refused before anything is
// computed or fetched for them: in the twoparty suite a prepare of two
// images is refused and the session goes on; in both suites a request of
// two images ends the session with "at most 1" from its header, before
// the server fetches any dealer material for it (and the dealer, with the
// plan the server registered, would grant one image per inference only).
// No inference is counted, and the server serves the next client.
func TestMaxImagesDefault(t *testing.T) {
	bothSuites(t, func(s *Server) {}, func(t *testing.T, addr string, s *Server, log *logSink) {
		if s.MaxImages != 0 {
			t.Fatalf("MaxImages %d, want the default", s.MaxImages)
		}
		ctx, cancel := testCtx(t)
		defer cancel()
		sess, err := Dial(ctx, ClientConfig{Server: addr, Dial: dialer(insecure), TrustServerDealer: true})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		in := s.Plan.Public.Input
		two := tensor.New(2, in[0], in[1], in[2])
		for i, x := range [2]*tensor.Tensor{randImage(70, in), randImage(71, in)} {
			copy(two.Data[i*len(x.Data):], x.Data)
		}
		if s.Stats().Suite == suiteTwoParty {
			if _, err := sess.pic.Prepare(ctx, sess.conn, 2); !errors.Is(err, pi.ErrPrepareRefused) || !strings.Contains(err.Error(), "at most 1") {
				t.Errorf("prepare of 2 images: %v, want a refusal naming the bound of 1", err)
			}
		}
		if _, _, err := sess.pic.Infer(ctx, sess.conn, two); err == nil {
			t.Fatal("a request of 2 images was served")
		}
		log.waitFor(t, "session failed", "after 0 inferences", "request for 2 images, at most 1")
		eventually(func() bool { return s.Stats().Active == 0 })
		if st := s.Stats(); st.Inferences != 0 {
			t.Errorf("%d inferences counted after a refused request of 2 images", st.Inferences)
		}
		checkServes(t, addr, 72)
	})
}
