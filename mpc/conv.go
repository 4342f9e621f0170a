package mpc

import (
	"fmt"

	"github.com/autorep/autorep/ring"
)

// conv returns y = w ⊛ x over Z_2^64 for the geometry p (ring.Conv2d).
func conv(p LinearSpec, w, x []uint64) ([]uint64, error) {
	y := make([]uint64, p.YLen())
	if err := ring.Conv2d(p, x, w, y); err != nil {
		return nil, fmt.Errorf("mpc: %w", err)
	}
	return y, nil
}
