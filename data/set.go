package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/autorep/autorep/tensor"
)

// Set is one split of a dataset held in memory: N images of C×H×W uint8
// pixels in NCHW order with their labels, plus the per-channel mean and
// standard deviation (on the [0,1] scale) used to normalise them.
type Set struct {
	// Name is the dataset name given to Load ("mnist", "cifar10",
	// "folder:/path", ...).
	Name string
	// Train tells whether this is the training split.
	Train bool
	// N is the number of images; C, H, W their channels, height and width.
	N, C, H, W int
	// Classes is the number of classes; labels are in [0, Classes).
	Classes int
	// Pixels holds N*C*H*W bytes, image after image, each in CHW order.
	Pixels []uint8
	// Labels holds N class indices.
	Labels []int32
	// Mean and Std are the per-channel normalisation constants (C values
	// each, on the [0,1] pixel scale): x = (p/255 − Mean[c]) / Std[c].
	Mean, Std []float32
	// ClassNames names the classes in label order.
	ClassNames []string
	// Source is the file or directory the set was decoded from.
	Source string
}

// ImageSize is the number of pixels (bytes) of one image: C*H*W.
func (s *Set) ImageSize() int { return s.C * s.H * s.W }

// Image returns the raw CHW pixels of image i (a view, not a copy).
func (s *Set) Image(i int) []uint8 {
	n := s.ImageSize()
	return s.Pixels[i*n : (i+1)*n]
}

// Normalized returns image i as a [1,C,H,W] tensor normalised with the set's
// mean and standard deviation. It panics if i is out of range, like a slice
// index.
func (s *Set) Normalized(i int) *tensor.Tensor {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("data: image index %d out of range [0,%d)", i, s.N))
	}
	t := tensor.New(1, s.C, s.H, s.W)
	s.normalizeInto(t.Data, s.Image(i))
	return t
}

// Get returns image i as a normalised [1,C,H,W] tensor with its label, or
// an error if i is out of range (use it for indices from users).
func (s *Set) Get(i int) (*tensor.Tensor, int32, error) {
	if i < 0 || i >= s.N {
		return nil, 0, fmt.Errorf("image index %d out of range: %s has %d images", i, s.Name, s.N)
	}
	return s.Normalized(i), s.Labels[i], nil
}

// normalizeInto writes the normalised values of one CHW image into dst.
func (s *Set) normalizeInto(dst []float32, img []uint8) {
	hw := s.H * s.W
	for c := 0; c < s.C; c++ {
		scale, shift := s.affine(c)
		src := img[c*hw : (c+1)*hw]
		out := dst[c*hw : (c+1)*hw]
		for j, p := range src {
			out[j] = float32(p)*scale + shift
		}
	}
}

// affine returns (scale, shift) with normalised = pixel*scale + shift for
// channel c.
func (s *Set) affine(c int) (float32, float32) {
	m, sd := float32(0), float32(1)
	if c < len(s.Mean) {
		m = s.Mean[c]
	}
	if c < len(s.Std) && s.Std[c] > 0 {
		sd = s.Std[c]
	}
	return 1 / (255 * sd), -m / sd
}

// Subset returns a new Set holding the images at the given indices, in that
// order (pixels and labels are copied). It returns an error if an index is
// out of range.
func (s *Set) Subset(idx []int) (*Set, error) {
	n := s.ImageSize()
	out := s.header()
	out.N = len(idx)
	out.Pixels = make([]uint8, len(idx)*n)
	out.Labels = make([]int32, len(idx))
	for k, i := range idx {
		if i < 0 || i >= s.N {
			return nil, fmt.Errorf("data: subset index %d out of range [0,%d)", i, s.N)
		}
		copy(out.Pixels[k*n:(k+1)*n], s.Image(i))
		out.Labels[k] = s.Labels[i]
	}
	return out, nil
}

// Take returns the first min(n, N) images as a Set sharing s's memory.
// Sets decoded from ImageFolder trees are sorted by class, so their first
// images are all of class 0: use Sample for a representative subset.
func (s *Set) Take(n int) *Set {
	if n < 0 {
		n = 0
	}
	if n > s.N {
		n = s.N
	}
	out := s.header()
	out.N = n
	out.Pixels = s.Pixels[:n*s.ImageSize()]
	out.Labels = s.Labels[:n]
	return out
}

// Sample returns min(n, N) distinct images chosen uniformly at random
// (reproducibly for a given seed), in random order, as a new Set.
func (s *Set) Sample(n int, seed int64) *Set {
	n = min(max(n, 0), s.N)
	idx := make([]int, s.N)
	for i := range idx {
		idx[i] = i
	}
	r := rand.NewPCG(uint64(seed), 0x5a3b1e)
	for i := 0; i < n; i++ { // partial Fisher–Yates
		j := i + intn(r, s.N-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	out, _ := s.Subset(idx[:n]) // indices are in range by construction
	return out
}

// Shape returns the image shape (C, H, W), as models.New takes it.
func (s *Set) Shape() [3]int { return [3]int{s.C, s.H, s.W} }

// header returns a copy of s without pixels and labels.
func (s *Set) header() *Set {
	return &Set{
		Name: s.Name, Train: s.Train, C: s.C, H: s.H, W: s.W, Classes: s.Classes,
		Mean: append([]float32(nil), s.Mean...), Std: append([]float32(nil), s.Std...),
		ClassNames: append([]string(nil), s.ClassNames...), Source: s.Source,
	}
}

// DefaultAugment reports whether the usual CIFAR-style augmentation (random
// crop with padding 4 and horizontal flip) suits this set: true for colour
// images, false for single-channel digit/clothing images such as MNIST,
// which are trained without augmentation.
func (s *Set) DefaultAugment() bool { return s.C == 3 }

// Validate checks that the set's sizes are consistent (pixels, labels,
// mean/std, class names) and its labels in range. Sets from Load are valid;
// use it on Sets built by hand.
func (s *Set) Validate() error {
	if s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.Classes <= 0 {
		return fmt.Errorf("bad shape N=%d C=%d H=%d W=%d classes=%d", s.N, s.C, s.H, s.W, s.Classes)
	}
	if len(s.Pixels) != s.N*s.ImageSize() {
		return fmt.Errorf("%d pixel bytes for %d images of %dx%dx%d", len(s.Pixels), s.N, s.C, s.H, s.W)
	}
	if len(s.Labels) != s.N {
		return fmt.Errorf("%d labels for %d images", len(s.Labels), s.N)
	}
	if len(s.Mean) != s.C || len(s.Std) != s.C {
		return fmt.Errorf("mean/std have %d/%d values for %d channels", len(s.Mean), len(s.Std), s.C)
	}
	if len(s.ClassNames) != s.Classes {
		return fmt.Errorf("%d class names for %d classes", len(s.ClassNames), s.Classes)
	}
	for i, l := range s.Labels {
		if l < 0 || int(l) >= s.Classes {
			return fmt.Errorf("label %d of image %d out of range [0,%d)", l, i, s.Classes)
		}
	}
	return nil
}

// ChannelStats returns the per-channel mean and standard deviation of the
// set's pixels on the [0,1] scale.
func (s *Set) ChannelStats() (mean, std []float64) {
	mean = make([]float64, s.C)
	std = make([]float64, s.C)
	hw := s.H * s.W
	if s.N == 0 || hw == 0 {
		return mean, std
	}
	for c := 0; c < s.C; c++ {
		var sum, sq uint64
		for i := 0; i < s.N; i++ {
			for _, p := range s.Pixels[(i*s.C+c)*hw : (i*s.C+c+1)*hw] {
				sum += uint64(p)
				sq += uint64(p) * uint64(p)
			}
		}
		n := float64(s.N * hw)
		m := float64(sum) / n / 255
		v := float64(sq)/n/(255*255) - m*m
		if v < 0 {
			v = 0
		}
		mean[c] = m
		std[c] = math.Sqrt(v)
	}
	return mean, std
}
