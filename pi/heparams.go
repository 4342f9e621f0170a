package pi

import (
	"github.com/autorep/autorep/helinear"
	"github.com/autorep/autorep/transport"
)

// heParams returns helinear's parameters for a two-party session of pub
// at share width ell: the plan's public weight bound (Public.WeightBound)
// sets the noise each HE linear layer floods, hence its modulus. Both
// parties derive them from the hashed public plan, so they agree.
func heParams(pub *Public, ell int) (*helinear.Params, error) {
	return helinear.NewParamsW(uint(ell), uint(min(pub.WeightBound(), ell)))
}

// newHEServer is the server's helinear session setup with heParams.
func newHEServer(conn transport.Conn, pub *Public, ell int) (*helinear.Server, error) {
	p, err := heParams(pub, ell)
	if err != nil {
		return nil, err
	}
	return helinear.NewServerParams(conn, p)
}

// newHEClient is the client's helinear session setup with heParams.
func newHEClient(conn transport.Conn, pub *Public, ell int) (*helinear.Client, error) {
	p, err := heParams(pub, ell)
	if err != nil {
		return nil, err
	}
	return helinear.NewClientParams(conn, p)
}
