package data

import (
	"image"
	"image/color"
	"os"
	"testing"
)

// pilDiff returns the mean and max absolute difference between got and
// want pixel bytes.
func pilDiff(got, want []uint8) (mean float64, maxd int) {
	sum := 0
	for i := range got {
		d := int(got[i]) - int(want[i])
		if d < 0 {
			d = -d
		}
		sum += d
		maxd = max(maxd, d)
	}
	return float64(sum) / float64(len(got)), maxd
}

// TestJPEGMatchesPillow checks decoded JPEG pixels against Pillow's
// (libjpeg-turbo, torchvision's decoder) for each chroma subsampling.
func TestJPEGMatchesPillow(t *testing.T) {
	for _, sub := range []string{"420", "422", "444"} {
		img, err := decodeOne(osTree{root: "testdata"}, "ycc"+sub+".jpg")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile("testdata/ycc" + sub + ".pil.chw")
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		if b.Dx() != 33 || b.Dy() != 27 || len(want) != 3*33*27 {
			t.Fatalf("%s: size %v, reference %d bytes", sub, b, len(want))
		}
		got := make([]uint8, len(want))
		if toCHW(img, got) {
			t.Fatalf("%s: colour image reported grey", sub)
		}
		mean, maxd := pilDiff(got, want)
		// Go's nearest-neighbour chroma, for comparison.
		naive := make([]uint8, len(want))
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				k := y*b.Dx() + x
				naive[k], naive[k+891], naive[k+2*891] = c.R, c.G, c.B
			}
		}
		nmean, nmax := pilDiff(naive, want)
		t.Logf("%s (%v): mean |diff| %.3f max %d; nearest chroma: %.3f max %d", sub, img.(*image.YCbCr).SubsampleRatio, mean, maxd, nmean, nmax)
		if mean > 0.2 || maxd > 4 {
			t.Errorf("%s: differs from Pillow by mean %.3f max %d", sub, mean, maxd)
		}
		if sub != "444" && mean > nmean/3 {
			t.Errorf("%s: fancy upsampling (%.3f) not clearly closer to Pillow than nearest (%.3f)", sub, mean, nmean)
		}
	}
}
