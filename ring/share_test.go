package ring

import (
	"slices"
	"testing"
)

func TestShareReconstruct(t *testing.T) {
	p := NewPRG(seedOf(11))
	x := p.Rand(3, 5, 7)
	x0, x1 := Share(x, p)
	if slices.Equal(x0.Data, x.Data) || slices.Equal(x1.Data, x.Data) {
		t.Fatal("a share equals the secret")
	}
	r, err := Reconstruct(x0, x1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Data, x.Data) || !slices.Equal(r.Shape, x.Shape) {
		t.Fatal("reconstruction differs from the secret")
	}
}

func TestShareSeeded(t *testing.T) {
	x := NewPRG(seedOf(12)).Rand(4, 9)
	s := seedOf(13)
	x1 := ShareSeeded(x, s)
	x0 := ExpandSeed(s, x.Shape...)
	r, err := Reconstruct(x0, x1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Data, x.Data) {
		t.Fatal("seeded shares do not reconstruct")
	}
}

// TestShareUniform checks that each share of a fixed secret looks uniform:
// chi-square over 256 bins of the top byte and of the low byte, for two
// different secrets (and both shares).
func TestShareUniform(t *testing.T) {
	const n = 1 << 16
	for _, secret := range []uint64{0, Encode(-3.75, 16)} {
		x := New(n)
		for i := range x.Data {
			x.Data[i] = secret
		}
		x0, x1 := Share(x, NewPRG(seedOf(byte(secret))))
		for k, sh := range []*Tensor{x0, x1} {
			var top, low [256]int
			for _, v := range sh.Data {
				top[v>>56]++
				low[v&0xff]++
			}
			if c := chiSquare256(&top, n); !chiOK(c) {
				t.Errorf("secret %#x share %d: top byte chi-square %.1f", secret, k, c)
			}
			if c := chiSquare256(&low, n); !chiOK(c) {
				t.Errorf("secret %#x share %d: low byte chi-square %.1f", secret, k, c)
			}
		}
	}
}
