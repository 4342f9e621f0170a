package fss

import (
	"testing"
)

// TestMMO8 checks the interleaved AES-NI routine (and its portable
// fallback) against crypto/aes.
func TestMMO8(t *testing.T) {
	prg := testPRG(3)
	for range 200 {
		var in [8]block
		for i := range in {
			in[i] = block{prg.Uint64(), prg.Uint64()}
		}
		var want [8]block
		for i := range 4 {
			want[i] = mmo(aesSeed, in[i])
			want[i+4] = mmo(aesVal, in[i+4])
		}
		a, g := in, in
		prg8(&a)
		mmo8Generic(&rkSeed, &rkVal, &g)
		if a != want || g != want {
			t.Fatalf("prg8 = %x\ngeneric = %x\nwant %x", a, g, want)
		}
	}
	if !useAsm {
		t.Log("no AES-NI routine on this platform; portable path only")
	}
}

// TestMMO16 checks the VAES routine (and its portable fallback) against
// crypto/aes.
func TestMMO16(t *testing.T) {
	prg := testPRG(4)
	for range 200 {
		var in [16]block
		for i := range in {
			in[i] = block{prg.Uint64(), prg.Uint64()}
		}
		var want [16]block
		for i := range 8 {
			want[i] = mmo(aesSeed, in[i])
			want[i+8] = mmo(aesVal, in[i+8])
		}
		g, p := in, in
		mmo16Generic(&rkSeed, &rkVal, &g)
		prg16(&p)
		if g != want || p != want {
			t.Fatal("mmo16Generic or prg16 differs from crypto/aes")
		}
		if useAsm { // the two-call AES-NI path used without VAES
			q := in
			mmo8(&rkSeed, &rkSeed, (*[8]block)(q[:8]))
			mmo8(&rkVal, &rkVal, (*[8]block)(q[8:]))
			if q != want {
				t.Fatal("two mmo8 calls differ from crypto/aes")
			}
		}
		if useVAES {
			a := in
			mmo16(&rkSeed, &rkVal, &a)
			if a != want {
				t.Fatalf("mmo16 = %x\nwant %x", a, want)
			}
		}
	}
	for range 20 {
		var in, want [24]block
		for i := range in {
			in[i] = block{prg.Uint64(), prg.Uint64()}
			c := aesVal
			if i < 8 {
				c = aesSeed
			}
			want[i] = mmo(c, in[i])
		}
		g, p := in, in
		mmo24Generic(&rkSeed, &rkVal, &g)
		prg24(&p)
		if g != want || p != want {
			t.Fatal("mmo24Generic or prg24 differs from crypto/aes")
		}
		if useVAES {
			a := in
			mmo24(&rkSeed, &rkVal, &a)
			if a != want {
				t.Fatalf("mmo24 = %x\nwant %x", a, want)
			}
		}
	}
	t.Logf("AES-NI %v, VAES %v: %d DCF lanes", useAsm, useVAES, lanes)
}

// BenchmarkMMO16 measures one sixteen-block call (VAES when available).
func BenchmarkMMO16(b *testing.B) {
	var bl [16]block
	for b.Loop() {
		prg16(&bl)
	}
}

// BenchmarkPRG8 measures one interleaved eight-block fixed-key AES call.
func BenchmarkPRG8(b *testing.B) {
	var bl [8]block
	for b.Loop() {
		prg8(&bl)
	}
}
