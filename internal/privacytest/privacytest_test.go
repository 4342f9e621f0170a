package privacytest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// probe is a testing.TB that records failures instead of failing.
type probe struct {
	testing.TB
	errs []string
}

func (p *probe) Helper() {}
func (p *probe) Errorf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// fails reports whether f reports a failure on a probe.
func fails(t *testing.T, f func(tb testing.TB)) bool {
	p := &probe{TB: t}
	f(p)
	return len(p.errs) > 0
}

func uniformWords(n int, seed uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, 7))
	w := make([]uint64, n)
	for i := range w {
		w[i] = r.Uint64()
	}
	return w
}

func msg(w []uint64) []byte {
	b := make([]byte, 8*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

// TestUniform: uniform words pass; small values, a stuck bit, a 4-bit
// window with a biased law and too few words fail.
func TestUniform(t *testing.T) {
	for seed := range uint64(20) {
		if fails(t, func(tb testing.TB) { Uniform(tb, "uniform", uniformWords(2048, seed)) }) {
			t.Fatalf("seed %d: uniform words rejected", seed)
		}
	}
	small := uniformWords(2048, 1)
	for i := range small {
		small[i] = uint64(int64(small[i]) >> 40) // signed 24-bit values
	}
	stuck := uniformWords(2048, 2)
	for i := range stuck {
		stuck[i] |= 1 << 37
	}
	biased := uniformWords(2048, 3)
	for i := range biased {
		if biased[i]>>8&15 == 0 {
			biased[i] |= 1 << 9 // window 8..11 never 0
		}
	}
	for name, w := range map[string][]uint64{"small": small, "stuck bit": stuck, "biased window": biased, "short": uniformWords(100, 4)} {
		if !fails(t, func(tb testing.TB) { Uniform(tb, name, w) }) {
			t.Errorf("%s words accepted as uniform", name)
		}
	}
}

// TestSameDistribution: two uniform samples pass; uniform against values
// with a biased top window fails.
func TestSameDistribution(t *testing.T) {
	a, b := uniformWords(4096, 5), uniformWords(4096, 6)
	if fails(t, func(tb testing.TB) { SameDistribution(tb, "ab", a, b) }) {
		t.Fatal("two uniform samples rejected")
	}
	c := uniformWords(4096, 7)
	for i := range c {
		c[i] &^= 1 << 63
	}
	if !fails(t, func(tb testing.TB) { SameDistribution(tb, "ac", a, c) }) {
		t.Error("uniform and top-bit-clear samples accepted as one law")
	}
}

// TestNoSecrets: a secret found at any byte offset, negated or tripled, in
// a message or (if large) in material fails; absent secrets pass; small
// material coincidences are ignored.
func TestNoSecrets(t *testing.T) {
	w := uniformWords(512, 8)
	sec := []Secret{{Name: "weights", Words: []uint64{0x1234, 1 << 40, 0}}}
	if fails(t, func(tb testing.TB) { NoSecrets(tb, "clean", View{Msgs: [][]byte{msg(w)}}, sec) }) {
		t.Fatal("clean view rejected")
	}
	for _, k := range []int64{1, -1, 3, -4} {
		m := msg(w)
		binary.LittleEndian.PutUint64(m[101:], uint64(k)*0x1234) // unaligned
		if !fails(t, func(tb testing.TB) { NoSecrets(tb, "leak", View{Msgs: [][]byte{msg(w), m}}, sec) }) {
			t.Errorf("%d × secret at an unaligned offset not found", k)
		}
	}
	mat := msg(uniformWords(64, 9))
	binary.LittleEndian.PutUint64(mat[16:], 0x1234) // below MinMaterialSecret
	if fails(t, func(tb testing.TB) { NoSecrets(tb, "small in material", View{Material: [][]byte{mat}}, sec) }) {
		t.Error("small secret in material reported")
	}
	minus2 := int64(-2)
	binary.LittleEndian.PutUint64(mat[24:], uint64(minus2)<<40)
	if !fails(t, func(tb testing.TB) { NoSecrets(tb, "material", View{Material: [][]byte{mat}}, sec) }) {
		t.Error("−2 × large secret in material not found")
	}
	if !fails(t, func(tb testing.TB) {
		NoSecrets(tb, "nothing", View{Msgs: [][]byte{msg(w)}}, []Secret{{Name: "zero", Words: []uint64{0}}})
	}) {
		t.Error("a search with no word to look for passed")
	}
}

// TestNoRepeatsFresh: independent uniform messages pass; a word reused
// within a view, or at the same position in a second run, fails.
func TestNoRepeatsFresh(t *testing.T) {
	a, b := uniformWords(1024, 10), uniformWords(1024, 11)
	v := View{Msgs: [][]byte{msg(a), msg(b)}}
	if fails(t, func(tb testing.TB) { NoRepeats(tb, "v", v) }) {
		t.Fatal("independent words rejected")
	}
	if fails(t, func(tb testing.TB) { Fresh(tb, "ab", [][]byte{msg(a)}, [][]byte{msg(b)}) }) {
		t.Fatal("independent runs rejected")
	}
	c := append([]uint64(nil), b...)
	c[700] = a[3]
	if !fails(t, func(tb testing.TB) { NoRepeats(tb, "rep", View{Msgs: [][]byte{msg(a), msg(c)}}) }) {
		t.Error("a repeated word passed")
	}
	c[5] = a[5]
	if !fails(t, func(tb testing.TB) { Fresh(tb, "ac", [][]byte{msg(a)}, [][]byte{msg(c)}) }) {
		t.Error("a word repeated in the second run passed")
	}
	if !fails(t, func(tb testing.TB) { Fresh(tb, "len", [][]byte{msg(a)}, [][]byte{msg(a), msg(b)}) }) {
		t.Error("different message counts passed")
	}
}
