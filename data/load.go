package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir returns the data directory: flagValue if non-empty, else
// $AUTOREP_DATA, else ~/.cache/autorep/data.
func Dir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if d := os.Getenv("AUTOREP_DATA"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".cache", "autorep", "data")
	}
	return filepath.Join(home, ".cache", "autorep", "data")
}

// Info describes a dataset known by name.
type Info struct {
	// Name is the canonical name accepted by Load.
	Name string
	// Mean and Std are the standard per-channel normalisation constants.
	Mean, Std []float32
	// Classes is the number of classes of the full dataset (a subset such
	// as tiny-imagenet-200-subset20 has fewer: use Set.Classes).
	Classes int
	// Shape is the image shape (C, H, W).
	Shape [3]int
	// Layouts lists where Load looks, relative to the data directory, in
	// order.
	Layouts []string
}

var known = []Info{
	{Name: "mnist", Mean: []float32{0.1307}, Std: []float32{0.3081}, Classes: 10,
		Shape: [3]int{1, 28, 28}, Layouts: []string{"mnist/"}},
	{Name: "fashion-mnist", Mean: []float32{0.2860}, Std: []float32{0.3530}, Classes: 10,
		Shape: [3]int{1, 28, 28}, Layouts: []string{"fashion-mnist/"}},
	{Name: "cifar10", Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}, Classes: 10,
		Shape: [3]int{3, 32, 32}, Layouts: []string{"cifar-10-batches-bin/", "cifar-10-jpg/", "cifar-10-jpg.tar.gz"}},
	{Name: "cifar100", Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}, Classes: 100,
		Shape: [3]int{3, 32, 32}, Layouts: []string{"cifar-100-binary/"}},
	{Name: "tiny-imagenet", Mean: []float32{0.4802, 0.4481, 0.3975}, Std: []float32{0.2770, 0.2691, 0.2821}, Classes: 200,
		Shape: [3]int{3, 64, 64}, Layouts: []string{"tiny-imagenet-200/", "tiny-imagenet-200-subset20/", "tiny-imagenet-200-subset20.tar.gz"}},
}

// aliases maps other spellings to canonical names.
var aliases = map[string]string{
	"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
	"cifar-10": "cifar10", "cifar_10": "cifar10", "cifar-100": "cifar100", "cifar_100": "cifar100",
	"tinyimagenet": "tiny-imagenet", "tiny_imagenet": "tiny-imagenet", "tiny-imagenet-200": "tiny-imagenet",
}

// Names returns the dataset names Load knows (besides "folder:PATH").
func Names() []string {
	out := make([]string, len(known))
	for i, k := range known {
		out[i] = k.Name
	}
	return out
}

// Lookup returns the description of a named dataset (aliases such as
// "cifar-10" and "fashion_mnist" are accepted).
func Lookup(name string) (Info, bool) {
	n := strings.ToLower(name)
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, k := range known {
		if k.Name == n {
			return k, true
		}
	}
	return Info{}, false
}

// source is a located dataset split, ready to fingerprint and decode.
type source struct {
	kind   string   // idx, cifar10bin, cifar100bin, folder, tiny
	where  string   // the file or directory found (Set.Source)
	paths  []string // files/dirs whose sizes and times key the cache
	decode func() (*Set, error)
}

// Load returns one split (train or test/validation) of a dataset found in
// dir. name is one of Names() or "folder:PATH" for an ImageFolder directory
// or .tar.gz of one (train/<class>/*.jpg|png and test/ or val/; a relative
// PATH is tried against the working directory, then dir).
//
// Lookup order inside dir: mnist → mnist/; fashion-mnist → fashion-mnist/
// (the four IDX files, .gz or not); cifar10 → cifar-10-batches-bin/, else
// cifar-10-jpg/, else cifar-10-jpg.tar.gz; cifar100 → cifar-100-binary/ (fine
// labels); tiny-imagenet → tiny-imagenet-200/, else
// tiny-imagenet-200-subset20/, else tiny-imagenet-200-subset20.tar.gz
// (train/<wnid>/images, val/images + val_annotations.txt, classes from
// wnids.txt in sorted order).
//
// Decoded pixels are cached under CacheDir(), keyed by the source files'
// paths, sizes and modification times; a missing or corrupt cache file is
// rebuilt. Errors name the paths that were expected.
func Load(dir, name string, train bool) (*Set, error) {
	src, info, err := locate(dir, name, train)
	if err != nil {
		return nil, err
	}
	if info != nil {
		name = info.Name
	}
	s, err := loadCached(src, name, train)
	if err != nil {
		return nil, err
	}
	switch {
	case info != nil:
		if fixed := info.FixedClassNames(); fixed != nil && s.Classes != len(fixed) {
			return nil, fmt.Errorf("%s: %s has %d classes, want %d", src.where, name, s.Classes, len(fixed))
		}
		if s.Shape() != info.Shape {
			return nil, fmt.Errorf("%s: %s images are %dx%dx%d, want %dx%dx%d", src.where, name, s.C, s.H, s.W, info.Shape[0], info.Shape[1], info.Shape[2])
		}
		s.Mean = append([]float32(nil), info.Mean...)
		s.Std = append([]float32(nil), info.Std...)
	case !train:
		// A generic folder is normalised with its training split's statistics.
		t, err := Load(dir, name, true)
		if err != nil {
			return nil, fmt.Errorf("normalisation statistics from the training split: %w", err)
		}
		if t.C != s.C {
			return nil, fmt.Errorf("%s: training images have %d channels, test images %d", src.where, t.C, s.C)
		}
		s.Mean, s.Std = t.Mean, t.Std
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.where, err)
	}
	return s, nil
}

// setOwnStats sets s's mean and std to its own pixel statistics.
func setOwnStats(s *Set) {
	m, sd := s.ChannelStats()
	s.Mean, s.Std = make([]float32, s.C), make([]float32, s.C)
	for c := range m {
		s.Mean[c], s.Std[c] = float32(m[c]), float32(sd[c])
		if s.Std[c] == 0 {
			s.Std[c] = 1
		}
	}
}

// loadCached returns the cached decode of src, decoding (and caching) it
// if needed. Cache failures are not errors: the set is decoded instead.
func loadCached(src *source, name string, train bool) (*Set, error) {
	dir := CacheDir()
	var key, path string
	if dir != "" {
		if k, err := sourceKey(src.kind, train, src.paths...); err == nil {
			key, path = k, cachePath(dir, name, train, src.where, k)
			if s, err := readCache(path, key); err == nil {
				return s, nil
			}
		}
	}
	s, err := src.decode()
	if err != nil {
		return nil, err
	}
	s.Name, s.Train, s.Source = name, train, src.where
	if s.Classes == 0 {
		s.Classes = len(s.ClassNames)
	}
	if len(s.Mean) != s.C || len(s.Std) != s.C {
		setOwnStats(s)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.where, err)
	}
	if path != "" {
		if writeCache(path, key, s) == nil { // a read-only or full cache only costs speed
			pruneCache(path)
		}
	}
	return s, nil
}

// exists reports whether p exists and is a directory (dir=true) or a regular
// file (dir=false).
func exists(p string, dir bool) bool {
	st, err := os.Stat(p)
	if err != nil {
		return false
	}
	if dir {
		return st.IsDir()
	}
	return st.Mode().IsRegular()
}

// locate finds a dataset split on disk. info is nil for generic folders.
func locate(dir, name string, train bool) (*source, *Info, error) {
	if p, ok := strings.CutPrefix(name, "folder:"); ok {
		src, err := locateFolder(dir, p, train)
		return src, nil, err
	}
	info, ok := Lookup(name)
	if !ok {
		return nil, nil, fmt.Errorf("unknown dataset %q (known: %s, or folder:PATH)", name, strings.Join(Names(), ", "))
	}
	var src *source
	var err error
	switch info.Name {
	case "mnist", "fashion-mnist":
		src, err = locateIDX(dir, info, train)
	case "cifar10":
		src, err = locateCIFAR10(dir, info, train)
	case "cifar100":
		src, err = locateCIFAR100(dir, info, train)
	case "tiny-imagenet":
		src, err = locateTiny(dir, train)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", info.Name, err)
	}
	return src, &info, nil
}

// fetchHint is appended to "not found" errors.
func fetchHint(name string) string {
	return fmt.Sprintf(" (set --data or AUTOREP_DATA, or run 'autorep data fetch %s')", name)
}

func locateIDX(dir string, info Info, train bool) (*source, error) {
	d := filepath.Join(dir, info.Name)
	images, labels, err := idxFiles(d, train)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, fetchHint(info.Name))
	}
	names := info.FixedClassNames()
	return &source{kind: "idx", where: d, paths: []string{images, labels}, decode: func() (*Set, error) {
		s, err := decodeIDX(images, labels)
		if err != nil {
			return nil, err
		}
		s.Classes, s.ClassNames = info.Classes, names
		return s, nil
	}}, nil
}

func locateCIFAR10(dir string, info Info, train bool) (*source, error) {
	bin := filepath.Join(dir, "cifar-10-batches-bin")
	if exists(bin, true) {
		paths, err := cifarFiles(bin, false, train)
		if err != nil {
			return nil, err
		}
		return &source{kind: "cifar10bin", where: bin, paths: paths, decode: func() (*Set, error) {
			s, err := decodeCIFAR(paths, false)
			if err != nil {
				return nil, err
			}
			s.ClassNames = readClassList(filepath.Join(bin, "batches.meta.txt"), 10)
			if s.ClassNames == nil {
				s.ClassNames = cifar10Names
			}
			return s, nil
		}}, nil
	}
	for _, p := range []string{filepath.Join(dir, "cifar-10-jpg"), filepath.Join(dir, "cifar-10-jpg.tar.gz")} {
		if exists(p, !strings.HasSuffix(p, ".gz")) {
			return folderSource("folder", p, train, folderItems), nil
		}
	}
	return nil, fmt.Errorf("expected %s, %s or %s%s", bin, filepath.Join(dir, "cifar-10-jpg"),
		filepath.Join(dir, "cifar-10-jpg.tar.gz"), fetchHint(info.Name))
}

func locateCIFAR100(dir string, info Info, train bool) (*source, error) {
	bin := filepath.Join(dir, "cifar-100-binary")
	if !exists(bin, true) {
		return nil, fmt.Errorf("expected %s%s", bin, fetchHint(info.Name))
	}
	paths, err := cifarFiles(bin, true, train)
	if err != nil {
		return nil, err
	}
	return &source{kind: "cifar100bin", where: bin, paths: paths, decode: func() (*Set, error) {
		s, err := decodeCIFAR(paths, true)
		if err != nil {
			return nil, err
		}
		s.ClassNames = readClassList(filepath.Join(bin, "fine_label_names.txt"), 100)
		if s.ClassNames == nil {
			s.ClassNames = cifar100Names
		}
		return s, nil
	}}, nil
}

func locateTiny(dir string, train bool) (*source, error) {
	cands := []string{filepath.Join(dir, "tiny-imagenet-200"), filepath.Join(dir, "tiny-imagenet-200-subset20"),
		filepath.Join(dir, "tiny-imagenet-200-subset20.tar.gz")}
	for _, p := range cands {
		if exists(p, !strings.HasSuffix(p, ".gz")) {
			return folderSource("tiny", p, train, tinyItems), nil
		}
	}
	return nil, fmt.Errorf("expected %s%s", strings.Join(cands, ", "), fetchHint("tiny-imagenet"))
}

// locateFolder finds a generic ImageFolder directory or archive.
func locateFolder(dir, p string, train bool) (*source, error) {
	if p == "" {
		return nil, errors.New("folder: needs a path (folder:PATH)")
	}
	cands := []string{p}
	if !filepath.IsAbs(p) && dir != "" {
		cands = append(cands, filepath.Join(dir, p))
	}
	for _, c := range cands {
		if exists(c, true) || (exists(c, false) && isArchive(c)) {
			return folderSource("folder", c, train, folderItems), nil
		}
	}
	return nil, fmt.Errorf("folder: expected an ImageFolder directory or .tar.gz at %s", strings.Join(cands, " or "))
}

// isArchive reports whether p names a gzipped tarball.
func isArchive(p string) bool {
	return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// folderSource builds a source for a directory or .tar.gz listed by list.
func folderSource(kind, p string, train bool, list func(tree, string, bool) ([]string, []item, error)) *source {
	return &source{kind: kind, where: p, paths: []string{p}, decode: func() (*Set, error) {
		var t tree = osTree{root: p}
		if !exists(p, true) {
			mt, err := readTarGz(p, splitMembers(train))
			if err != nil {
				return nil, err
			}
			t = mt
		}
		root, err := findRoot(t)
		if err != nil {
			return nil, err
		}
		classes, items, err := list(t, root, train)
		if err != nil {
			return nil, err
		}
		return decodeItems(t, items, classes)
	}}
}

// FixedClassNames returns the class names of a known dataset when they do
// not depend on the files (MNIST digits "0".."9", Fashion-MNIST's articles,
// the CIFAR classes), else nil.
func (i Info) FixedClassNames() []string {
	switch i.Name {
	case "mnist":
		return []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	case "fashion-mnist":
		return []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	case "cifar10":
		return append([]string(nil), cifar10Names...)
	case "cifar100":
		return append([]string(nil), cifar100Names...)
	}
	return nil
}

// Locate reports where dataset name would be loaded from in dir (both
// splits' files must exist; nothing is decoded), or an error naming the
// paths expected.
func Locate(dir, name string) (string, error) {
	var where string
	for _, train := range []bool{true, false} {
		src, _, err := locate(dir, name, train)
		if err != nil {
			return "", err
		}
		where = src.where
	}
	return where, nil
}
