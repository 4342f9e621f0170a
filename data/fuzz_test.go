package data

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParseIDX checks that arbitrary bytes never panic the IDX parser and
// that accepted inputs are self-consistent.
func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes(idxImageMagic, []int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(idxBytes(idxLabelMagic, []int{3}, []byte{1, 2, 3}))
	f.Add([]byte{0, 0, 8, 3, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []uint32{idxImageMagic, idxLabelMagic} {
			dims, payload, err := parseIDX(b, m)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range dims {
				n *= d
			}
			if n != len(payload) {
				t.Fatalf("dims %v but %d payload bytes", dims, len(payload))
			}
		}
	})
}

// FuzzParseCache checks that corrupt cache files are rejected without
// panicking and that valid ones round-trip.
func FuzzParseCache(f *testing.F) {
	s := synthSet(3, 2, 2, 2)
	var buf bytes.Buffer
	path := f.TempDir() + "/c.bin"
	if err := writeCache(path, "k", s); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	buf.Write(good)
	f.Add(buf.Bytes())
	f.Add(good[:20])
	f.Add([]byte(cacheMagic + "\xff\xff\xff\x7f0000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseCache(b, "k")
		if err != nil {
			return
		}
		if err := got.check(); err != nil {
			t.Fatalf("accepted an inconsistent set: %v", err)
		}
	})
}
