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
	return y, s.addLocal(convShape(p), w, bias, xs, y)
}

// shape is one linear layer: a convolution, or (fc) a fully connected
// layer on a batch.
type shape struct {
	conv           ring.ConvParams
	fc             bool
	batch, in, out int
}

func convShape(p ring.ConvParams) shape { return shape{conv: p} }
func fcShape(batch, in, out int) shape  { return shape{fc: true, batch: batch, in: in, out: out} }

func (sh shape) xLen() int {
	if sh.fc {
		return sh.batch * sh.in
	}
	return sh.conv.XLen()
}

func (sh shape) yLen() int {
	if sh.fc {
		return sh.batch * sh.out
	}
	return sh.conv.YLen()
}

// addLocal adds the server's own contribution W·x_s + b, computed in the
// clear on the ring kernels, to y (its share of W·x_c), mod 2^ℓ.
func (s *Server) addLocal(sh shape, w, bias, xs, y []uint64) error {
	local := make([]uint64, sh.yLen())
	per := sh.out // bias index = output index mod per / plane
	plane := 1
	if sh.fc {
		if err := ring.MatMulTransB(sh.batch, sh.out, sh.in, xs, w, local); err != nil {
			return fmt.Errorf("helinear: %w", err)
		}
	} else {
		if err := ring.Conv2d(sh.conv, xs, w, local); err != nil {
			return fmt.Errorf("helinear: %w", err)
		}
		per, plane = sh.conv.K, sh.conv.OutH()*sh.conv.OutW()
	}
	for i := range y {
		v := local[i]
		if bias != nil {
			v += bias[i/plane%per]
		}
		y[i] = (y[i] + v) & s.P.mask
	}
	return nil
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
	return y, s.addLocal(fcShape(batch, in, out), w, bias, xs, y)
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
