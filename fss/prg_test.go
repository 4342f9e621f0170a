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
		mmo8Generic(&g)
		if a != want || g != want {
			t.Fatalf("prg8 = %x\ngeneric = %x\nwant %x", a, g, want)
		}
	}
	if !useAsm {
		t.Log("no AES-NI routine on this platform; portable path only")
	}
}

// BenchmarkPRG8 measures one interleaved eight-block fixed-key AES call.
func BenchmarkPRG8(b *testing.B) {
	var bl [8]block
	for b.Loop() {
		prg8(&bl)
	}
}
