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
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted an inconsistent set: %v", err)
		}
	})
}

// FuzzTinyItems feeds arbitrary wnids.txt and val_annotations.txt contents
// to the Tiny-ImageNet lister: it must return an error or a consistent
// listing, never panic.
func FuzzTinyItems(f *testing.F) {
	f.Add([]byte("n01\nn02\n"), []byte("val_0.JPEG\tn02\t0 0 1 1\nval_1.JPEG\tn01\t0 0 1 1\n"))
	f.Add([]byte("n01 n01"), []byte("x"))
	f.Add([]byte(""), []byte("\n\n"))
	f.Fuzz(func(t *testing.T, wnids, ann []byte) {
		mt := &memTree{archive: "a.tar.gz", files: map[string][]byte{}, dirs: map[string]map[string]bool{"": {}}}
		mt.add("r/wnids.txt", wnids)
		mt.add("r/val/val_annotations.txt", ann)
		mt.add("r/train/n01/images/a.JPEG", []byte{1})
		classes, items, err := tinyItems(mt, "r", false)
		if err != nil {
			return
		}
		for _, it := range items {
			if it.label < 0 || int(it.label) >= len(classes) {
				t.Fatalf("label %d of %s out of range", it.label, it.path)
			}
		}
	})
}
