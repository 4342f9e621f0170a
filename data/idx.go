package data

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// IDX magic numbers: unsigned-byte data with 1 (labels) or 3 (images)
// dimensions.
const (
	idxLabelMagic = 0x00000801
	idxImageMagic = 0x00000803
	// maxIDXBytes bounds the decompressed size we accept (MNIST-sized files
	// are 47 MB), so a corrupt header cannot make us allocate without limit.
	maxIDXBytes = 1 << 30
)

// readMaybeGzip reads a whole file, gunzipping it when its name ends in .gz.
// It reads at most limit decompressed bytes and reports larger inputs as an
// error.
func readMaybeGzip(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: not a valid gzip file: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (truncated or corrupt?)", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return b, nil
}

// parseIDX checks an IDX file's header and returns its dimensions and data.
func parseIDX(b []byte, magic uint32) (dims []int, payload []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("too short for an IDX header")
	}
	if m := binary.BigEndian.Uint32(b); m != magic {
		return nil, nil, fmt.Errorf("IDX magic number %#08x, want %#08x", m, magic)
	}
	nd := int(magic & 0xff)
	if len(b) < 4+4*nd {
		return nil, nil, errors.New("truncated IDX header")
	}
	total := 1
	for i := 0; i < nd; i++ {
		d := binary.BigEndian.Uint32(b[4+4*i:])
		if d > maxIDXBytes {
			return nil, nil, fmt.Errorf("IDX dimension %d too large", d)
		}
		dims = append(dims, int(d))
		total *= int(d)
		if total > maxIDXBytes {
			return nil, nil, errors.New("IDX data too large")
		}
	}
	payload = b[4+4*nd:]
	if len(payload) != total {
		return nil, nil, fmt.Errorf("IDX header %v needs %d data bytes, file has %d", dims, total, len(payload))
	}
	return dims, payload, nil
}

// findFile returns the first of the candidate paths that exists.
func findFile(cands ...string) (string, bool) {
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// idxFiles returns the image and label files of an MNIST-style split in dir
// (gzipped or not), or an error naming the paths expected.
func idxFiles(dir string, train bool) (images, labels string, err error) {
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	ib := filepath.Join(dir, prefix+"-images-idx3-ubyte")
	lb := filepath.Join(dir, prefix+"-labels-idx1-ubyte")
	images, ok1 := findFile(ib+".gz", ib)
	labels, ok2 := findFile(lb+".gz", lb)
	if !ok1 || !ok2 {
		return "", "", fmt.Errorf("expected %s.gz and %s.gz", ib, lb)
	}
	return images, labels, nil
}

// decodeIDX decodes an MNIST-style pair of IDX files into a Set with one
// channel.
func decodeIDX(imagesPath, labelsPath string) (*Set, error) {
	ib, err := readMaybeGzip(imagesPath, maxIDXBytes)
	if err != nil {
		return nil, err
	}
	dims, pix, err := parseIDX(ib, idxImageMagic)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imagesPath, err)
	}
	lb, err := readMaybeGzip(labelsPath, maxIDXBytes)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := parseIDX(lb, idxLabelMagic)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", labelsPath, err)
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("%s has %d labels but %s has %d images", labelsPath, ldims[0], imagesPath, dims[0])
	}
	if dims[1] == 0 || dims[2] == 0 {
		return nil, fmt.Errorf("%s: empty images %dx%d", imagesPath, dims[1], dims[2])
	}
	s := &Set{N: dims[0], C: 1, H: dims[1], W: dims[2], Pixels: pix, Labels: make([]int32, len(lab))}
	for i, l := range lab {
		s.Labels[i] = int32(l)
	}
	return s, nil
}
