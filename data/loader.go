package data

import (
	"iter"
	"math/rand/v2"
	"sync"

	"github.com/autorep/autorep/tensor"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	// Batch is the number of images per batch (default 128).
	Batch int
	// Shuffle visits the images in a random order each epoch.
	Shuffle bool
	// Seed makes shuffling and augmentation reproducible: the same
	// (Seed, epoch) always gives the same batches.
	Seed int64
	// Augment applies CIFAR-style augmentation: a random crop of the image
	// zero-padded by Pad pixels on each side, then a horizontal flip with
	// probability 1/2 (unless NoFlip).
	Augment bool
	// DropLast drops the last batch of an epoch if it is incomplete.
	DropLast bool
	// Pad is the crop padding used by Augment (default 4).
	Pad int
	// NoFlip disables the horizontal flip of Augment (e.g. for digits).
	NoFlip bool
	// Prefetch is the number of batches prepared ahead of the consumer
	// (default 3).
	Prefetch int
}

// Loader turns a Set into normalised float32 batches.
type Loader struct {
	set *Set
	cfg LoaderConfig
	// lut[c][p] is the normalised value of pixel value p in channel c.
	lut [][256]float32
}

// Batch is one mini-batch.
type Batch struct {
	// X holds the images, [B,C,H,W], normalised (and augmented).
	X *tensor.Tensor
	// Y holds the B labels.
	Y []int32
	// Index holds the B positions of the images in the Set.
	Index []int
}

// NewLoader returns a loader over s. Zero fields of cfg take their defaults.
func NewLoader(s *Set, cfg LoaderConfig) *Loader {
	if cfg.Batch <= 0 {
		cfg.Batch = 128
	}
	if cfg.Pad <= 0 {
		cfg.Pad = 4
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 3
	}
	l := &Loader{set: s, cfg: cfg, lut: make([][256]float32, s.C)}
	for c := range l.lut {
		scale, shift := s.affine(c)
		for p := range l.lut[c] {
			l.lut[c][p] = float32(p)*scale + shift
		}
	}
	return l
}

// Set returns the loader's dataset.
func (l *Loader) Set() *Set { return l.set }

// Config returns the loader's configuration with defaults filled in.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// Len is the number of batches per epoch.
func (l *Loader) Len() int {
	n, b := l.set.N, l.cfg.Batch
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the order in which epoch visits the images: 0..N-1, or a
// permutation determined by (Seed, epoch) when shuffling.
func (l *Loader) Order(epoch int) []int {
	idx := make([]int, l.set.N)
	for i := range idx {
		idx[i] = i
	}
	if l.cfg.Shuffle {
		r := rand.NewPCG(uint64(l.cfg.Seed), mix(uint64(epoch), 0x5eed))
		for i := len(idx) - 1; i > 0; i-- {
			j := intn(r, i+1)
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
	return idx
}

// Iter yields the batches of one epoch. A background goroutine prepares the
// next batches while the caller works on the current one; call Close if
// you stop before Next returns false.
type Iter struct {
	ch   chan Batch
	done chan struct{}
	once sync.Once
}

// Epoch starts iterating over epoch number epoch (any integer; it seeds the
// shuffle and augmentation).
func (l *Loader) Epoch(epoch int) *Iter {
	it := &Iter{ch: make(chan Batch, l.cfg.Prefetch), done: make(chan struct{})}
	order := l.Order(epoch)
	go func() {
		defer close(it.ch)
		for b := 0; b < l.Len(); b++ {
			lo := b * l.cfg.Batch
			hi := min(lo+l.cfg.Batch, len(order))
			batch := l.makeBatch(order[lo:hi], epoch, b)
			select {
			case it.ch <- batch:
			case <-it.done:
				return
			}
		}
	}()
	return it
}

// Batches returns the batches of an epoch as a range-over-func sequence;
// breaking out of the loop stops the background preparation:
//
//	for b := range loader.Batches(epoch) { ... }
func (l *Loader) Batches(epoch int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		it := l.Epoch(epoch)
		defer it.Close()
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if !yield(b) {
				return
			}
		}
	}
}

// Next returns the next batch, or false at the end of the epoch.
func (it *Iter) Next() (Batch, bool) {
	b, ok := <-it.ch
	return b, ok
}

// Close stops the background goroutine; Next then returns false. It is
// safe to call more than once and after the epoch ended.
func (it *Iter) Close() {
	it.once.Do(func() { close(it.done) })
	for range it.ch { // drain so the producer can exit
	}
}

// makeBatch builds batch number b of an epoch from the given image indices.
func (l *Loader) makeBatch(idx []int, epoch, b int) Batch {
	s := l.set
	n, hw := len(idx), s.H*s.W
	x := tensor.New(n, s.C, s.H, s.W)
	y := make([]int32, n)
	var r *rand.PCG
	if l.cfg.Augment {
		r = rand.NewPCG(mix(uint64(l.cfg.Seed), 0xa09), mix(uint64(epoch), uint64(b)))
	}
	for k, i := range idx {
		y[k] = s.Labels[i]
		img := s.Image(i)
		out := x.Data[k*s.C*hw : (k+1)*s.C*hw]
		if r == nil {
			for c := 0; c < s.C; c++ {
				lut := &l.lut[c]
				o := out[c*hw : (c+1)*hw]
				for j, p := range img[c*hw : (c+1)*hw] {
					o[j] = lut[p]
				}
			}
			continue
		}
		pad := l.cfg.Pad
		dy, dx := intn(r, 2*pad+1)-pad, intn(r, 2*pad+1)-pad
		flip := !l.cfg.NoFlip && intn(r, 2) == 1
		l.cropFlip(out, img, dy, dx, flip)
	}
	return Batch{X: x, Y: y, Index: append([]int(nil), idx...)}
}

// cropFlip writes the normalised crop of img shifted by (dy, dx) (pixels
// outside the image are zero-valued padding), mirrored if flip: output
// pixel (y, x) is source pixel (y+dy, x'+dx) where x' = x, or W-1-x if flip.
func (l *Loader) cropFlip(out []float32, img []uint8, dy, dx int, flip bool) {
	s := l.set
	h, w, hw := s.H, s.W, s.H*s.W
	// Output columns whose source column x'+dx lies inside the image.
	x0, x1 := max(0, -dx), min(w, w-dx) // valid x' range
	lo, hi := x0, x1
	if flip {
		lo, hi = w-x1, w-x0
	}
	for c := 0; c < s.C; c++ {
		lut := &l.lut[c]
		pad := lut[0]
		src := img[c*hw : (c+1)*hw]
		for yy := 0; yy < h; yy++ {
			o := out[c*hw+yy*w : c*hw+(yy+1)*w]
			sy := yy + dy
			if sy < 0 || sy >= h || lo >= hi {
				for x := range o {
					o[x] = pad
				}
				continue
			}
			row := src[sy*w : (sy+1)*w]
			for x := 0; x < lo; x++ {
				o[x] = pad
			}
			if flip {
				for x := lo; x < hi; x++ {
					o[x] = lut[row[w-1-x+dx]]
				}
			} else {
				for x := lo; x < hi; x++ {
					o[x] = lut[row[x+dx]]
				}
			}
			for x := hi; x < w; x++ {
				o[x] = pad
			}
		}
	}
}

// intn returns a uniform integer in [0, n) from r (n > 0), by rejection so
// that it has no modulo bias and does not depend on math/rand's helpers.
func intn(r *rand.PCG, n int) int {
	un := uint64(n)
	limit := -un % un // 2^64 mod n
	for {
		v := r.Uint64()
		if v >= limit {
			return int(v % un)
		}
	}
}

// mix combines two words into a well-spread 64-bit seed (splitmix64 finaliser).
func mix(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 + b + 0x632be59bd9b4e019
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
