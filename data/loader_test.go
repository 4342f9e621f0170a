package data

import (
	"slices"
	"testing"
	"time"
)

// synthSet is a small set whose pixel values identify image, channel and
// position: pixel (i, c, y, x) = (i*7 + c*50 + y*5 + x) % 256.
func synthSet(n, c, h, w int) *Set {
	s := &Set{Name: "synth", N: n, C: c, H: h, W: w, Classes: 10, Pixels: make([]uint8, n*c*h*w), Labels: make([]int32, n)}
	for i := 0; i < n; i++ {
		s.Labels[i] = int32(i % 10)
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					s.Pixels[((i*c+ch)*h+y)*w+x] = uint8((i*7 + ch*50 + y*5 + x) % 256)
				}
			}
		}
	}
	for range c {
		s.Mean = append(s.Mean, 0.5)
		s.Std = append(s.Std, 0.25)
	}
	for k := 0; k < 10; k++ {
		s.ClassNames = append(s.ClassNames, string(rune('a'+k)))
	}
	return s
}

// collect runs one epoch and returns its batches.
func collect(l *Loader, epoch int) []Batch {
	var out []Batch
	it := l.Epoch(epoch)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		out = append(out, b)
	}
	return out
}

func TestLoaderSequential(t *testing.T) {
	s := synthSet(10, 3, 4, 5)
	l := NewLoader(s, LoaderConfig{Batch: 4})
	bs := collect(l, 0)
	if len(bs) != 3 || l.Len() != 3 {
		t.Fatalf("%d batches, Len %d, want 3", len(bs), l.Len())
	}
	if !slices.Equal(bs[2].X.Shape, []int{2, 3, 4, 5}) || len(bs[2].Y) != 2 {
		t.Fatalf("last batch shape %v", bs[2].X.Shape)
	}
	for bi, b := range bs {
		for k, i := range b.Index {
			if i != bi*4+k || b.Y[k] != s.Labels[i] {
				t.Fatalf("batch %d item %d is image %d label %d", bi, k, i, b.Y[k])
			}
			// Without augmentation each image equals Normalized(i).
			want := s.Normalized(i).Data
			got := b.X.Data[k*60 : (k+1)*60]
			for j := range want {
				if d := got[j] - want[j]; d > 1e-6 || d < -1e-6 {
					t.Fatalf("image %d value %d: %v want %v", i, j, got[j], want[j])
				}
			}
		}
	}
	// Value check: pixel p normalises to (p/255 - 0.5)/0.25.
	p := float32(s.Pixels[0])
	if want := (p/255 - 0.5) / 0.25; bs[0].X.Data[0]-want > 1e-6 || want-bs[0].X.Data[0] > 1e-6 {
		t.Errorf("normalised %v, want %v", bs[0].X.Data[0], want)
	}
	if got := len(collect(NewLoader(s, LoaderConfig{Batch: 4, DropLast: true}), 0)); got != 2 {
		t.Errorf("DropLast: %d batches, want 2", got)
	}
}

func TestLoaderShuffleDeterminism(t *testing.T) {
	s := synthSet(50, 3, 8, 8)
	cfg := LoaderConfig{Batch: 16, Shuffle: true, Seed: 42, Augment: true}
	a := collect(NewLoader(s, cfg), 3)
	b := collect(NewLoader(s, cfg), 3)
	c := collect(NewLoader(s, cfg), 4)
	cfg.Seed = 43
	d := collect(NewLoader(s, cfg), 3)
	same := func(x, y []Batch) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !slices.Equal(x[i].Index, y[i].Index) || !slices.Equal(x[i].X.Data, y[i].X.Data) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("same seed and epoch gave different batches")
	}
	if same(a, c) || same(a, d) {
		t.Fatal("different epoch or seed gave identical batches")
	}
	// Every image appears exactly once per epoch.
	var seen []int
	for _, bt := range a {
		seen = append(seen, bt.Index...)
	}
	slices.Sort(seen)
	for i, v := range seen {
		if v != i {
			t.Fatalf("epoch visits %v", seen)
		}
	}
	if slices.IsSorted(NewLoader(s, cfg).Order(0)) {
		t.Error("shuffled order is sorted")
	}
}

func TestLoaderAugmentation(t *testing.T) {
	s := synthSet(64, 3, 8, 8)
	l := NewLoader(s, LoaderConfig{Batch: 64, Augment: true, Seed: 1})
	bs := collect(l, 0)
	if len(bs) != 1 || !slices.Equal(bs[0].X.Shape, []int{64, 3, 8, 8}) {
		t.Fatalf("augmented batch shape %v", bs[0].X.Shape)
	}
	zero := (0 - 0.5) / 0.25
	flips, shifts := 0, 0
	for k, i := range bs[0].Index {
		got := bs[0].X.Data[k*192 : (k+1)*192]
		// Find the (dy, dx, flip) that explains the output; pixels outside
		// the image must be zero padding.
		found := false
		for dy := -4; dy <= 4 && !found; dy++ {
			for dx := -4; dx <= 4 && !found; dx++ {
				for _, flip := range []bool{false, true} {
					if matches(s, i, got, dy, dx, flip, float32(zero)) {
						found = true
						if flip {
							flips++
						}
						if dy != 0 || dx != 0 {
							shifts++
						}
						break
					}
				}
			}
		}
		if !found {
			t.Fatalf("image %d is not a padded crop/flip of the source", i)
		}
	}
	if flips < 15 || flips > 49 || shifts < 50 {
		t.Errorf("%d flips and %d shifted crops in 64 images", flips, shifts)
	}
	// NoFlip and MNIST-sized single-channel sets.
	g := synthSet(8, 1, 28, 28)
	bs = collect(NewLoader(g, LoaderConfig{Batch: 8, Augment: true, NoFlip: true, Pad: 2}), 0)
	for k, i := range bs[0].Index {
		got := bs[0].X.Data[k*784 : (k+1)*784]
		ok := false
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				ok = ok || matches(g, i, got, dy, dx, false, float32(zero))
			}
		}
		if !ok {
			t.Fatalf("grey image %d is not a padded crop", i)
		}
	}
}

// matches reports whether out is image i of s cropped at offset (dy, dx),
// flipped if flip, with zero-pixel padding normalised to zero.
func matches(s *Set, i int, out []float32, dy, dx int, flip bool, zero float32) bool {
	img := s.Image(i)
	for c := 0; c < s.C; c++ {
		scale, shift := s.affine(c)
		for y := 0; y < s.H; y++ {
			for x := 0; x < s.W; x++ {
				sx := x
				if flip {
					sx = s.W - 1 - x
				}
				sy, sx := y+dy, sx+dx
				want := zero
				if sy >= 0 && sy < s.H && sx >= 0 && sx < s.W {
					want = float32(img[(c*s.H+sy)*s.W+sx])*scale + shift
				}
				if d := out[(c*s.H+y)*s.W+x] - want; d > 1e-5 || d < -1e-5 {
					return false
				}
			}
		}
	}
	return true
}

func TestLoaderCloseEarly(t *testing.T) {
	s := synthSet(100, 1, 4, 4)
	l := NewLoader(s, LoaderConfig{Batch: 1, Prefetch: 2})
	it := l.Epoch(0)
	if _, ok := it.Next(); !ok {
		t.Fatal("no first batch")
	}
	it.Close()
	it.Close()
	if _, ok := it.Next(); ok {
		t.Fatal("Next after Close returned a batch")
	}
	// Range-over-func with an early break.
	n := 0
	for b := range l.Batches(1) {
		n += len(b.Y)
		if n == 5 {
			break
		}
	}
	if n != 5 {
		t.Fatalf("Batches yielded %d images before the break", n)
	}
	n = 0
	for b := range l.Batches(2) {
		n += len(b.Y)
	}
	if n != s.N {
		t.Fatalf("Batches yielded %d images, want %d", n, s.N)
	}
	// Empty set: no batches.
	if bs := collect(NewLoader(s.Take(0), LoaderConfig{}), 0); len(bs) != 0 {
		t.Fatalf("%d batches from an empty set", len(bs))
	}
}

func TestSubsetTake(t *testing.T) {
	s := synthSet(10, 2, 3, 3)
	sub, err := s.Subset([]int{7, 2})
	if err != nil {
		t.Fatal(err)
	}
	if sub.N != 2 || sub.Labels[0] != 7 || !slices.Equal(sub.Image(1), s.Image(2)) {
		t.Fatalf("subset N=%d labels %v", sub.N, sub.Labels)
	}
	sub.Pixels[0] = 255 - s.Pixels[7*18] // copies, not views
	if s.Pixels[7*18] == sub.Pixels[0] {
		t.Fatal("Subset shares pixels")
	}
	if _, err := s.Subset([]int{10}); err == nil {
		t.Fatal("out-of-range subset index accepted")
	}
	tk := s.Take(3)
	if tk.N != 3 || len(tk.Pixels) != 54 || len(tk.Labels) != 3 || s.Take(99).N != 10 {
		t.Fatalf("Take: N=%d", tk.N)
	}
	if err := tk.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSample(t *testing.T) {
	s := synthSet(50, 1, 2, 2)
	a, b, c := s.Sample(20, 1), s.Sample(20, 1), s.Sample(20, 2)
	if a.N != 20 || !slices.Equal(a.Pixels, b.Pixels) || slices.Equal(a.Pixels, c.Pixels) {
		t.Fatalf("Sample: N=%d, same seed equal %v, other seed equal %v", a.N, slices.Equal(a.Pixels, b.Pixels), slices.Equal(a.Pixels, c.Pixels))
	}
	// Distinct images: pixel 0 of image i is (7i) % 256, distinct for i < 50.
	seen := map[uint8]bool{}
	for i := 0; i < a.N; i++ {
		p := a.Image(i)[0]
		if seen[p] {
			t.Fatalf("image with pixel %d sampled twice", p)
		}
		seen[p] = true
	}
	if s.Sample(99, 0).N != 50 || s.Sample(-1, 0).N != 0 || s.Shape() != [3]int{1, 2, 2} {
		t.Fatal("Sample bounds or Shape wrong")
	}
}

// TestLoaderPrefetches checks that batches are prepared ahead of the
// consumer, up to Prefetch of them, while it is busy.
func TestLoaderPrefetches(t *testing.T) {
	s := synthSet(40, 1, 4, 4)
	l := NewLoader(s, LoaderConfig{Batch: 4, Prefetch: 3})
	it := l.Epoch(0)
	defer it.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(it.ch) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(it.ch); n != 3 {
		t.Fatalf("%d batches ready while the consumer was idle, want 3", n)
	}
	time.Sleep(10 * time.Millisecond)
	if n := len(it.ch); n != 3 {
		t.Fatalf("%d batches queued, more than Prefetch=3", n)
	}
}
