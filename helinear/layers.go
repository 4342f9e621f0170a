package helinear

import (
	"fmt"

	"github.com/autorep/autorep/ring"
)

// Conv2d is the server's side of a convolution (ring.ConvParams p, NCHW
// layout) on shares: w [K, C/Groups, R, S] and bias [K] (nil: none) are
// the server's plaintext weights (batch norm folded by the caller), xs its
// share of x. It returns its share of conv(x, w) + bias over Z_2^ℓ. One
// round: the client's ciphertexts in, the masked results out.
func (s *Server) Conv2d(p ring.ConvParams, w, bias, xs []uint64) ([]uint64, error) {
	pl, err := planConv(p, s.P)
	if err != nil {
		return nil, err
	}
	if len(w) != p.WLen() || len(xs) != p.XLen() || (bias != nil && len(bias) != p.K) {
		return nil, fmt.Errorf("helinear: conv %+v: have x %d, w %d, bias %d elements, want %d, %d, %d",
			p, len(xs), len(w), len(bias), p.XLen(), p.WLen(), p.K)
	}
	y, err := s.run(pl, p.N, w)
	if err != nil {
		return nil, err
	}
	// The server's own share contributes W·x_s + b, computed in the clear.
	local := make([]uint64, p.YLen())
	if err := ring.Conv2d(p, xs, w, local); err != nil {
		return nil, fmt.Errorf("helinear: %w", err)
	}
	plane := p.OutH() * p.OutW()
	for i := range y {
		v := local[i]
		if bias != nil {
			v += bias[i/plane%p.K]
		}
		y[i] = (y[i] + v) & s.P.mask
	}
	return y, nil
}

// Conv2d is the client's side of Server.Conv2d: xc is its share of x; it
// returns its share of the output.
func (c *Client) Conv2d(p ring.ConvParams, xc []uint64) ([]uint64, error) {
	pl, err := planConv(p, c.P)
	if err != nil {
		return nil, err
	}
	if len(xc) != p.XLen() {
		return nil, fmt.Errorf("helinear: conv %+v: have x %d elements, want %d", p, len(xc), p.XLen())
	}
	return c.run(pl, p.N, xc)
}

// FC is the server's side of a fully connected layer y = W·x + b on a
// batch of images: w [out, in] row-major, bias [out] (nil: none), xs its
// share of x [batch, in]. It returns its share of y [batch, out].
func (s *Server) FC(batch, in, out int, w, bias, xs []uint64) ([]uint64, error) {
	pl, err := planFC(in, out, s.P)
	if err != nil {
		return nil, err
	}
	if batch < 1 || len(w) != in*out || len(xs) != batch*in || (bias != nil && len(bias) != out) {
		return nil, fmt.Errorf("helinear: fully connected %d→%d, batch %d: have x %d, w %d, bias %d elements",
			in, out, batch, len(xs), len(w), len(bias))
	}
	y, err := s.run(pl, batch, w)
	if err != nil {
		return nil, err
	}
	local := make([]uint64, batch*out)
	if err := ring.MatMulTransB(batch, out, in, xs, w, local); err != nil {
		return nil, fmt.Errorf("helinear: %w", err)
	}
	for i := range y {
		v := local[i]
		if bias != nil {
			v += bias[i%out]
		}
		y[i] = (y[i] + v) & s.P.mask
	}
	return y, nil
}

// FC is the client's side of Server.FC: xc is its share of x [batch, in].
func (c *Client) FC(batch, in, out int, xc []uint64) ([]uint64, error) {
	pl, err := planFC(in, out, c.P)
	if err != nil {
		return nil, err
	}
	if batch < 1 || len(xc) != batch*in {
		return nil, fmt.Errorf("helinear: fully connected %d→%d, batch %d: have x %d elements, want %d",
			in, out, batch, len(xc), batch*in)
	}
	return c.run(pl, batch, xc)
}
