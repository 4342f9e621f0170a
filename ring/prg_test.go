package ring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"math"
	"slices"
	"testing"
)

func seedOf(b byte) Seed {
	var s Seed
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

// chiSquare256 returns the chi-square statistic of counts against uniform.
func chiSquare256(counts *[256]int, total int) float64 {
	e := float64(total) / 256
	var x float64
	for _, c := range counts {
		d := float64(c) - e
		x += d * d / e
	}
	return x
}

// chiOK accepts a 255-degree-of-freedom statistic within ±7 standard
// deviations (sd = sqrt(510) ≈ 22.6) of its mean: a false failure has
// probability below 1e-9, while a constant or biased byte fails by orders
// of magnitude.
func chiOK(x float64) bool { return x > 255-7*22.6 && x < 255+7*22.6 }

func TestPRGMatchesAESCTR(t *testing.T) {
	s := seedOf(3)
	got := make([]byte, 10000)
	NewPRG(s).Bytes(got)
	block, _ := aes.NewCipher(s[:])
	want := make([]byte, len(got))
	cipher.NewCTR(block, make([]byte, 16)).XORKeyStream(want, want)
	if !bytes.Equal(got, want) {
		t.Fatal("PRG output is not AES-128-CTR(seed, iv=0)")
	}
}

func TestPRGDeterministicAndSplitInvariant(t *testing.T) {
	s := seedOf(7)
	whole := make([]uint64, 3000)
	NewPRG(s).Uint64s(whole)
	again := make([]uint64, 3000)
	NewPRG(s).Uint64s(again)
	if !slices.Equal(whole, again) {
		t.Fatal("same seed, different streams")
	}
	// Any mix of calls reads the same stream.
	p := NewPRG(s)
	var parts []uint64
	for _, n := range []int{1, 0, 5, 511, 2, 600, 1, 1000} {
		d := make([]uint64, n)
		p.Uint64s(d)
		parts = append(parts, d...)
	}
	parts = append(parts, p.Uint64(), p.Uint64())
	rest := make([]uint64, len(whole)-len(parts))
	p.Uint64s(rest)
	parts = append(parts, rest...)
	if !slices.Equal(whole, parts) {
		t.Fatal("split Uint64s calls read a different stream")
	}
	// Bytes interleaved with Uint64s: still one stream.
	raw := make([]byte, 8*len(whole))
	NewPRG(s).Bytes(raw)
	q := NewPRG(s)
	b3 := make([]byte, 3)
	q.Bytes(b3)
	b5 := make([]byte, 5)
	q.Bytes(b5)
	big := make([]byte, 8*1200)
	q.Bytes(big)
	u := make([]uint64, 10)
	q.Uint64s(u)
	var buf []byte
	buf = append(buf, b3...)
	buf = append(buf, b5...)
	buf = append(buf, big...)
	for _, v := range u {
		buf = append(buf, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
	}
	if !bytes.Equal(buf, raw[:len(buf)]) {
		t.Fatal("mixed Bytes/Uint64s calls read a different stream")
	}
}

func TestPRGDistinctSeeds(t *testing.T) {
	a := make([]uint64, 64)
	b := make([]uint64, 64)
	NewPRG(seedOf(1)).Uint64s(a)
	NewPRG(seedOf(2)).Uint64s(b)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 1 and 2 agree on %d of 64 words", same)
	}
	s1, err := NewSeed()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSeed()
	if s1 == s2 || s1 == (Seed{}) {
		t.Errorf("NewSeed not random: %x %x", s1, s2)
	}
	p := NewPRG(s1)
	if c := p.Seed(); c == s1 || c == p.Seed() {
		t.Error("derived seeds repeat")
	}
}

func TestPRGByteFrequency(t *testing.T) {
	r, err := NewRandomPRG()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []*PRG{NewPRG(seedOf(0)), NewPRG(Seed{}), r} {
		buf := make([]byte, 1<<20)
		p.Bytes(buf)
		var counts [256]int
		for _, b := range buf {
			counts[b]++
		}
		if x := chiSquare256(&counts, len(buf)); !chiOK(x) {
			t.Errorf("PRG %d: byte chi-square %.1f over 1 MiB", i, x)
		}
	}
	// The test detects a biased stream.
	var counts [256]int
	for i := range 1 << 20 {
		counts[byte(i*i)]++
	}
	if x := chiSquare256(&counts, 1<<20); chiOK(x) {
		t.Errorf("biased bytes pass the chi-square test (%.1f)", x)
	}
}

func TestPRGBits(t *testing.T) {
	p := NewPRG(seedOf(9))
	bits := make([]byte, 100003)
	p.Bits(bits)
	ones := 0
	for _, b := range bits {
		if b > 1 {
			t.Fatalf("bit value %d", b)
		}
		ones += int(b)
	}
	// Binomial(n, 1/2): sd = sqrt(n)/2 ≈ 158; allow 7 sd.
	if d := math.Abs(float64(ones) - float64(len(bits))/2); d > 7*158 {
		t.Errorf("%d ones in %d bits", ones, len(bits))
	}
	// Bits unpack the byte stream LSB first.
	q := NewPRG(seedOf(9))
	raw := make([]byte, 2)
	q.Bytes(raw)
	for j := range 16 {
		if bits[j] != (raw[j/8]>>(j%8))&1 {
			t.Fatalf("bit %d does not match byte stream", j)
		}
	}
	var n int
	if n, _ = p.Read(make([]byte, 17)); n != 17 {
		t.Errorf("Read returned %d", n)
	}
}

func BenchmarkPRGUint64s(b *testing.B) {
	p := NewPRG(seedOf(5))
	dst := make([]uint64, 1<<16)
	b.SetBytes(8 << 16)
	for b.Loop() {
		p.Uint64s(dst)
	}
}
