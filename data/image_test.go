package data

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadImage(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	writeFile(t, p, pngBytes(6, 5, 10, false)) // R = 10+x, G = 10+y, B = 30
	pix, err := ReadImage(p, [3]int{3, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	if pix[0] != 10 || pix[5] != 15 || pix[30+6] != 11 || pix[60] != 30 {
		t.Fatalf("pixels %v", pix)
	}
	// Grey conversion (PIL's convert("L") luma).
	g, err := ReadImage(p, [3]int{1, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint8((10*19595 + 10*38470 + 30*7471 + 0x8000) >> 16); g[0] != want {
		t.Fatalf("grey pixel %d, want %d", g[0], want)
	}
	// Resizing a grey ramp (pixel = 7y + x): sizes follow the shape, grey
	// is replicated, rows stay monotone and the corners are kept.
	q := filepath.Join(dir, "grey.png")
	writeFile(t, q, pngBytes(7, 7, 0, true))
	big, err := ReadImage(q, [3]int{3, 14, 21})
	if err != nil || len(big) != 3*14*21 {
		t.Fatalf("resize: %v, %d pixels", err, len(big))
	}
	row := big[3*21 : 4*21]
	if !slices.IsSorted(row) || !slices.Equal(big[:14*21], big[14*21:2*14*21]) {
		t.Errorf("resized grey ramp row %v", row)
	}
	if big[0] != 0 || big[14*21-1] != 48 {
		t.Errorf("resized corners %d %d, want 0 48", big[0], big[14*21-1])
	}
	for _, bad := range []struct {
		path  string
		shape [3]int
		want  string
	}{
		{filepath.Join(dir, "none.png"), [3]int{3, 5, 6}, "no such file"},
		{p, [3]int{2, 5, 6}, "unsupported image shape"},
		{p, [3]int{3, 0, 6}, "unsupported image shape"},
	} {
		if _, err := ReadImage(bad.path, bad.shape); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ReadImage(%s, %v): %v, want %q", bad.path, bad.shape, err, bad.want)
		}
	}
	writeFile(t, filepath.Join(dir, "bad.jpg"), []byte("\xff\xd8 not really"))
	if _, err := ReadImage(filepath.Join(dir, "bad.jpg"), [3]int{3, 5, 6}); err == nil || !strings.Contains(err.Error(), "bad.jpg") {
		t.Errorf("corrupt file: %v", err)
	}
}

func TestNormalizePixels(t *testing.T) {
	s := synthSet(3, 3, 4, 5)
	x, err := NormalizePixels(s.Image(2), s.Shape(), s.Mean, s.Std)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Data, s.Normalized(2).Data) || !slices.Equal(x.Shape, []int{1, 3, 4, 5}) {
		t.Fatal("NormalizePixels differs from Set.Normalized")
	}
	if _, err := NormalizePixels(s.Image(2)[1:], s.Shape(), s.Mean, s.Std); err == nil {
		t.Error("short pixels accepted")
	}
	if _, err := NormalizePixels(s.Image(2), s.Shape(), s.Mean[:1], s.Std); err == nil {
		t.Error("short mean accepted")
	}
}

func TestImageConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	writeFile(t, p, pngBytes(6, 5, 10, false))
	cfg, format, err := ImageConfig(p)
	if err != nil || cfg.Width != 6 || cfg.Height != 5 || format != "png" {
		t.Fatalf("ImageConfig: %+v %q %v, want 6x5 png", cfg, format, err)
	}
	// One pixel past the side limit is refused from the header alone, by
	// ImageConfig and by ReadImage.
	wide := filepath.Join(dir, "wide.png")
	writeFile(t, wide, pngBytes(maxSide+1, 1, 0, true))
	want := "image size 4097x1 outside 1..4096"
	if _, _, err := ImageConfig(wide); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "wide.png") {
		t.Errorf("ImageConfig(wide): %v, want %q naming the file", err, want)
	}
	if _, err := ReadImage(wide, [3]int{1, 5, 6}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ReadImage(wide): %v, want %q", err, want)
	}
	if _, _, err := ImageConfig(filepath.Join(dir, "none.png")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	writeFile(t, filepath.Join(dir, "bad.jpg"), []byte("\xff\xd8 not really"))
	if _, _, err := ImageConfig(filepath.Join(dir, "bad.jpg")); err == nil || !strings.Contains(err.Error(), "not a PNG or JPEG") {
		t.Errorf("corrupt file: %v", err)
	}
}
