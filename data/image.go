package data

import (
	"fmt"
	"image"
	"os"

	"github.com/autorep/autorep/tensor"
)

// ImageConfig reads only the header of a JPEG or PNG file and returns its
// size and format, refusing sizes ReadImage would refuse (beyond 4096
// pixels a side) so that a caller can fail before any costly work.
func ImageConfig(path string) (image.Config, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, "", err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return image.Config{}, "", fmt.Errorf("%s: not a PNG or JPEG image: %w", path, err)
	}
	if err := checkSide(path, cfg); err != nil {
		return image.Config{}, "", err
	}
	return cfg, format, nil
}

// ReadImage decodes one JPEG or PNG file (as a dataset image is decoded)
// into CHW uint8 pixels of the given shape (C, H, W): colour images become
// grey for C=1 (ITU-R 601 luma, as PIL's convert("L")), grey images are
// replicated for C=3, and an image of another size is resized with
// bilinear interpolation (half-pixel centres, no antialiasing). It is meant
// for single inputs such as `autorep infer --image FILE`.
func ReadImage(path string, shape [3]int) ([]uint8, error) {
	c, h, w := shape[0], shape[1], shape[2]
	if c != 1 && c != 3 || h <= 0 || w <= 0 || h > maxSide || w > maxSide {
		return nil, fmt.Errorf("unsupported image shape %v (want 1 or 3 channels)", shape)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	img, err := decodeOne(osTree{root: path}, "")
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	rgb := make([]uint8, 3*sw*sh)
	gray := toCHW(img, rgb)
	src := rgb
	if c == 1 {
		src = rgb[:sw*sh]
		if !gray {
			src = make([]uint8, sw*sh)
			for i := range src {
				r, g, bl := uint32(rgb[i]), uint32(rgb[sw*sh+i]), uint32(rgb[2*sw*sh+i])
				src[i] = uint8((r*19595 + g*38470 + bl*7471 + 0x8000) >> 16)
			}
		}
	}
	if sw == w && sh == h {
		return src, nil
	}
	out := make([]uint8, c*h*w)
	for ch := 0; ch < c; ch++ {
		resizeBilinear(src[ch*sw*sh:(ch+1)*sw*sh], sw, sh, out[ch*h*w:(ch+1)*h*w], w, h)
	}
	return out, nil
}

// resizeBilinear resizes one sw×sh plane to dw×dh.
func resizeBilinear(src []uint8, sw, sh int, dst []uint8, dw, dh int) {
	coord := func(o, dn, sn int) (int, int, float64) {
		f := (float64(o)+0.5)*float64(sn)/float64(dn) - 0.5
		f = min(max(f, 0), float64(sn-1))
		i0 := int(f)
		i1 := min(i0+1, sn-1)
		return i0, i1, f - float64(i0)
	}
	for y := 0; y < dh; y++ {
		y0, y1, fy := coord(y, dh, sh)
		for x := 0; x < dw; x++ {
			x0, x1, fx := coord(x, dw, sw)
			top := float64(src[y0*sw+x0])*(1-fx) + float64(src[y0*sw+x1])*fx
			bot := float64(src[y1*sw+x0])*(1-fx) + float64(src[y1*sw+x1])*fx
			dst[y*dw+x] = uint8(top*(1-fy) + bot*fy + 0.5)
		}
	}
}

// NormalizePixels returns one CHW uint8 image of the given shape as a
// [1,C,H,W] tensor normalised with per-channel mean and std (on the [0,1]
// scale), exactly as Set.Normalized and the Loader normalise.
func NormalizePixels(pix []uint8, shape [3]int, mean, std []float32) (*tensor.Tensor, error) {
	c, h, w := shape[0], shape[1], shape[2]
	if c <= 0 || h <= 0 || w <= 0 || len(pix) != c*h*w {
		return nil, fmt.Errorf("%d pixels for image shape %v", len(pix), shape)
	}
	if len(mean) != c || len(std) != c {
		return nil, fmt.Errorf("mean/std have %d/%d values for %d channels", len(mean), len(std), c)
	}
	s := &Set{N: 1, C: c, H: h, W: w, Mean: mean, Std: std}
	t := tensor.New(1, c, h, w)
	s.normalizeInto(t.Data, pix)
	return t, nil
}
