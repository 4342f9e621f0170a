package helinear

import (
	"errors"
	"fmt"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Offline/online split (Delphi, Mishra et al., USENIX Security 2020):
// before the input exists, the client draws a uniform mask r ∈ Z_2^ℓ of
// the layer's input size and the two parties run the HE protocol on it,
// ending with shares y_c + y_s = W·r. Online, the client sends d = x_c − r
// (ℓ bits an element, one message, nothing back) and the server computes
// W·(x_s + d) + b + y_s in the clear: since x_s + d = x − r, the shares
// sum to W·x + b. d is uniform to the server because r is; r must never
// be used twice (two differences would give x_c − x_c'), so a
// precomputed layer is consumed by its online step.

// ClientPre is the client's precomputed layer: its mask and its share of
// W·mask. Single use.
type ClientPre struct {
	sh   shape
	r, y []uint64
	used bool
}

// ServerPre is the server's precomputed layer: its share of W·mask.
// Single use.
type ServerPre struct {
	sh   shape
	y    []uint64
	used bool
}

// PrecomputeConv2d is the client's offline step of a convolution: it
// draws the mask and runs the HE protocol on it.
func (c *Client) PrecomputeConv2d(p ring.ConvParams) (*ClientPre, error) {
	pl, err := planConv(p, c.P)
	if err != nil {
		return nil, err
	}
	return c.precompute(pl, convShape(p), p.N)
}

// PrecomputeFC is the client's offline step of a fully connected layer.
func (c *Client) PrecomputeFC(batch, in, out int) (*ClientPre, error) {
	pl, err := planFC(in, out, c.P)
	if err != nil {
		return nil, err
	}
	if batch < 1 {
		return nil, fmt.Errorf("helinear: fully connected %d→%d, batch %d", in, out, batch)
	}
	return c.precompute(pl, fcShape(batch, in, out), batch)
}

func (c *Client) precompute(pl *plan, sh shape, batch int) (*ClientPre, error) {
	r := make([]uint64, sh.xLen())
	c.prg.Uint64s(r)
	for i := range r {
		r[i] &= c.P.mask
	}
	y, err := c.run(pl, batch, r)
	if err != nil {
		return nil, err
	}
	return &ClientPre{sh: sh, r: r, y: y}, nil
}

// PrecomputeConv2d is the server's offline step of a convolution with
// weights w (the online step must use the same).
func (s *Server) PrecomputeConv2d(p ring.ConvParams, w []uint64) (*ServerPre, error) {
	pl, err := planConv(p, s.P)
	if err != nil {
		return nil, err
	}
	if len(w) != p.WLen() {
		return nil, fmt.Errorf("helinear: conv %+v: have w %d elements, want %d", p, len(w), p.WLen())
	}
	y, err := s.run(pl, p.N, w)
	if err != nil {
		return nil, err
	}
	return &ServerPre{sh: convShape(p), y: y}, nil
}

// PrecomputeFC is the server's offline step of a fully connected layer
// with weights w [out, in].
func (s *Server) PrecomputeFC(batch, in, out int, w []uint64) (*ServerPre, error) {
	pl, err := planFC(in, out, s.P)
	if err != nil {
		return nil, err
	}
	if batch < 1 || len(w) != in*out {
		return nil, fmt.Errorf("helinear: fully connected %d→%d, batch %d: have w %d elements", in, out, batch, len(w))
	}
	y, err := s.run(pl, batch, w)
	if err != nil {
		return nil, err
	}
	return &ServerPre{sh: fcShape(batch, in, out), y: y}, nil
}

var errUsed = errors.New("helinear: precomputed layer already used (its mask must not be reused)")

// Online is the client's online step of pre: xc is its share of the
// layer's input; it returns its share of the output. One message to the
// server, none back.
func (c *Client) Online(pre *ClientPre, xc []uint64) ([]uint64, error) {
	if pre.used {
		return nil, errUsed
	}
	if len(xc) != len(pre.r) {
		return nil, fmt.Errorf("helinear: online input of %d elements, precomputed for %d", len(xc), len(pre.r))
	}
	pre.used = true
	d := make([]uint64, len(xc))
	for i, v := range xc {
		d[i] = (v - pre.r[i]) & c.P.mask
	}
	if err := c.Conn.Send(rq.PackSeg(nil, d, c.P.Ell)); err != nil {
		return nil, fmt.Errorf("helinear: sending masked input: %w", err)
	}
	return pre.y, nil
}

// Online is the server's online step of pre: w and bias (nil: none) are
// the weights of the precomputation, xs its share of the input; it
// returns its share of the output.
func (s *Server) Online(pre *ServerPre, w, bias, xs []uint64) ([]uint64, error) {
	if pre.used {
		return nil, errUsed
	}
	sh := pre.sh
	wLen, k := sh.in*sh.out, sh.out
	if !sh.fc {
		wLen, k = sh.conv.WLen(), sh.conv.K
	}
	if len(w) != wLen || len(xs) != sh.xLen() || (bias != nil && len(bias) != k) {
		return nil, fmt.Errorf("helinear: online step: have x %d, w %d, bias %d elements, want %d, %d, %d",
			len(xs), len(w), len(bias), sh.xLen(), wLen, k)
	}
	pre.used = true
	b, err := transport.RecvExact(s.Conn, rq.SegBytes(sh.xLen(), s.P.Ell))
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving masked input: %w", err)
	}
	x := make([]uint64, sh.xLen())
	rq.UnpackSeg(b, x, s.P.Ell)
	for i := range x {
		x[i] += xs[i] // x_s + x_c − r = x − r
	}
	y := make([]uint64, len(pre.y))
	copy(y, pre.y)
	return y, s.addLocal(sh, w, bias, x, y)
}
