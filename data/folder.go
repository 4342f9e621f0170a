package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"runtime"
	"sort"
	"strings"
	"sync"
)

// item is one image file of a split with its label.
type item struct {
	path  string
	label int32
}

// maxDepth bounds the directory nesting walkImages follows (and so
// symbolic-link loops).
const maxDepth = 16

// walkImages appends every image file under dir (recursively, in sorted
// order) to items with the given label.
func walkImages(t tree, dir string, label int32, items []item) ([]item, error) {
	return walkImagesDepth(t, dir, label, items, 0)
}

func walkImagesDepth(t tree, dir string, label int32, items []item, depth int) ([]item, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: directories nested more than %d deep (a symbolic-link loop?)", t.where(dir), maxDepth)
	}
	ents, err := t.list(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		p := join(dir, e.name)
		switch {
		case e.dir:
			if items, err = walkImagesDepth(t, p, label, items, depth+1); err != nil {
				return nil, err
			}
		case isImageName(e.name):
			items = append(items, item{path: p, label: label})
		}
	}
	return items, nil
}

// subdirs returns the names of the subdirectories of dir, sorted.
func subdirs(t tree, dir string) ([]string, error) {
	ents, err := t.list(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.dir && !strings.HasPrefix(e.name, ".") {
			out = append(out, e.name)
		}
	}
	return out, nil
}

// folderItems lists an ImageFolder split: classes are the sorted
// subdirectories of train/ (so both splits agree on labels); the test split
// is test/, else val/.
func folderItems(t tree, root string, train bool) (classes []string, items []item, err error) {
	classes, err = subdirs(t, join(root, "train"))
	if err != nil {
		return nil, nil, err
	}
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("%s has no class directories", t.where(join(root, "train")))
	}
	split := "train"
	if !train {
		split = "test"
		if !hasDir(t, root, "test") {
			if !hasDir(t, root, "val") {
				return nil, nil, fmt.Errorf("expected %s or %s", t.where(join(root, "test")), t.where(join(root, "val")))
			}
			split = "val"
		}
	}
	index := map[string]int32{}
	for i, c := range classes {
		index[c] = int32(i)
	}
	have, err := subdirs(t, join(root, split))
	if err != nil {
		return nil, nil, err
	}
	for _, c := range have {
		l, ok := index[c]
		if !ok {
			return nil, nil, fmt.Errorf("%s: class %q is not in %s", t.where(join(root, split, c)), c, t.where(join(root, "train")))
		}
		if items, err = walkImages(t, join(root, split, c), l, items); err != nil {
			return nil, nil, err
		}
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("no images (.jpg, .jpeg, .png) under %s", t.where(join(root, split)))
	}
	return classes, items, nil
}

// tinyItems lists a Tiny-ImageNet split: classes are the wnids of
// wnids.txt (sorted, as an ImageFolder over train/ would order them), train
// images are train/<wnid>/images/*.JPEG and validation images are
// val/images/* labelled by val/val_annotations.txt.
func tinyItems(t tree, root string, train bool) (classes []string, items []item, err error) {
	wn, err := t.read(join(root, "wnids.txt"))
	if err != nil {
		return nil, nil, fmt.Errorf("expected %s: %w", t.where(join(root, "wnids.txt")), err)
	}
	classes = strings.Fields(string(wn))
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("%s lists no classes", t.where(join(root, "wnids.txt")))
	}
	sort.Strings(classes)
	index := map[string]int32{}
	for i, c := range classes {
		if _, dup := index[c]; dup {
			return nil, nil, fmt.Errorf("%s lists %s twice", t.where(join(root, "wnids.txt")), c)
		}
		index[c] = int32(i)
	}
	if train {
		for i, c := range classes {
			dir := join(root, "train", c, "images")
			n := len(items)
			if items, err = walkImages(t, dir, int32(i), items); err != nil {
				return nil, nil, fmt.Errorf("expected %s: %w", t.where(dir), err)
			}
			if len(items) == n {
				return nil, nil, fmt.Errorf("no images in %s", t.where(dir))
			}
		}
		return classes, items, nil
	}
	annPath := join(root, "val", "val_annotations.txt")
	ann, err := t.read(annPath)
	if err != nil {
		return nil, nil, fmt.Errorf("expected %s: %w", t.where(annPath), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(ann))
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, nil, fmt.Errorf("%s:%d: want \"FILE WNID ...\"", t.where(annPath), line)
		}
		l, ok := index[f[1]]
		if !ok {
			return nil, nil, fmt.Errorf("%s:%d: class %s is not in wnids.txt", t.where(annPath), line, f[1])
		}
		if strings.Contains(f[0], "/") || !isImageName(f[0]) {
			return nil, nil, fmt.Errorf("%s:%d: bad image name %q", t.where(annPath), line, f[0])
		}
		items = append(items, item{path: join(root, "val", "images", f[0]), label: l})
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("%s lists no images", t.where(annPath))
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	for i := 1; i < len(items); i++ {
		if items[i].path == items[i-1].path {
			return nil, nil, fmt.Errorf("%s lists %s twice", t.where(annPath), items[i].path)
		}
	}
	return classes, items, nil
}

// decodeItems decodes the images in parallel (one worker per core) into an
// NCHW uint8 Set. All images must have the size of the first; the set has
// one channel if every image is greyscale, else three (grey images are
// replicated, alpha is dropped).
func decodeItems(t tree, items []item, classes []string) (*Set, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("no images")
	}
	first, err := decodeOne(t, items[0].path)
	if err != nil {
		return nil, err
	}
	b := first.Bounds()
	h, w := b.Dy(), b.Dx()
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%s: empty image", t.where(items[0].path))
	}
	n, plane := len(items), h*w
	s := &Set{N: n, C: 3, H: h, W: w, Classes: len(classes), ClassNames: classes,
		Pixels: make([]uint8, n*3*plane), Labels: make([]int32, n)}
	gray := make([]bool, n)
	var (
		mu       sync.Mutex
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	work := func() {
		defer wg.Done()
		for {
			mu.Lock()
			i := next
			next++
			stop := firstErr != nil
			mu.Unlock()
			if i >= n || stop {
				return
			}
			img, err := decodeOne(t, items[i].path)
			if err == nil && (img.Bounds().Dx() != w || img.Bounds().Dy() != h) {
				err = fmt.Errorf("%s: image is %dx%d, the first image (%s) is %dx%d",
					t.where(items[i].path), img.Bounds().Dx(), img.Bounds().Dy(), t.where(items[0].path), w, h)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			gray[i] = toCHW(img, s.Pixels[i*3*plane:(i+1)*3*plane])
			s.Labels[i] = items[i].label
		}
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	wg.Add(workers)
	for range workers {
		go work()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	allGray := true
	for _, g := range gray {
		allGray = allGray && g
	}
	if allGray {
		for i := 0; i < n; i++ {
			copy(s.Pixels[i*plane:(i+1)*plane], s.Pixels[i*3*plane:i*3*plane+plane])
		}
		s.C = 1
		s.Pixels = s.Pixels[: n*plane : n*plane]
	}
	return s, nil
}

// maxSide bounds image width and height so that a corrupt or hostile
// header cannot make the decoder allocate gigabytes.
const maxSide = 4096

// checkSide refuses an image whose header gives a size outside 1..maxSide.
func checkSide(where string, cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxSide || cfg.Height > maxSide {
		return fmt.Errorf("%s: image size %dx%d outside 1..%d", where, cfg.Width, cfg.Height, maxSide)
	}
	return nil
}

// decodeOne reads and decodes one image file.
func decodeOne(t tree, p string) (image.Image, error) {
	b, err := t.read(p)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.where(p), err)
	}
	if err := checkSide(t.where(p), cfg); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.where(p), err)
	}
	return img, nil
}

// rgbaToCHW splits 4-byte RGBA pixels (NRGBA or RGBA; alpha dropped) of a
// w×h image with row stride stride into the planes r, g and b.
func rgbaToCHW(pix []uint8, stride, w, h int, r, g, b []uint8) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*w]
		for x := 0; x < w; x++ {
			k := y*w + x
			r[k], g[k], b[k] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// toCHW writes img as three CHW planes into dst (len 3*H*W) and reports
// whether the image is greyscale.
func toCHW(img image.Image, dst []uint8) (gray bool) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	r, g, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			copy(r[y*w:], row)
			copy(g[y*w:], row)
			copy(bl[y*w:], row)
		}
		return true
	case *image.YCbCr:
		ycbcrToCHW(m, dst)
		return false
	case *image.NRGBA:
		rgbaToCHW(m.Pix, m.Stride, w, h, r, g, bl)
		return false
	case *image.RGBA:
		rgbaToCHW(m.Pix, m.Stride, w, h, r, g, bl)
		return false
	}
	gray = img.ColorModel() == color.GrayModel || img.ColorModel() == color.Gray16Model
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			k := y*w + x
			r[k], g[k], bl[k] = c.R, c.G, c.B
		}
	}
	return gray
}
