package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// useTempCache points the decode cache at a fresh temporary directory.
func useTempCache(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	old := cacheDirOverride
	cacheDirOverride = d
	t.Cleanup(func() { cacheDirOverride = old })
	return d
}

// idxBytes builds an IDX file.
func idxBytes(magic uint32, dims []int, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, payload...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeMNIST writes a small MNIST-layout dataset (n images of 28x28 whose
// pixels encode the image index and label i%10) to dir/name.
func writeMNIST(t *testing.T, dir, name string, n int) {
	for _, prefix := range []string{"train", "t10k"} {
		pix := make([]byte, n*784)
		lab := make([]byte, n)
		for i := 0; i < n; i++ {
			lab[i] = byte(i % 10)
			for j := 0; j < 784; j++ {
				pix[i*784+j] = byte(i + j)
			}
		}
		writeFile(t, filepath.Join(dir, name, prefix+"-images-idx3-ubyte.gz"), gz(idxBytes(idxImageMagic, []int{n, 28, 28}, pix)))
		writeFile(t, filepath.Join(dir, name, prefix+"-labels-idx1-ubyte.gz"), gz(idxBytes(idxLabelMagic, []int{n}, lab)))
	}
}

func TestIDXSynthetic(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	writeMNIST(t, dir, "mnist", 37)
	s, err := Load(dir, "mnist", true)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 37 || s.C != 1 || s.H != 28 || s.W != 28 || s.Classes != 10 || len(s.ClassNames) != 10 {
		t.Fatalf("got N=%d C=%d H=%d W=%d classes=%d", s.N, s.C, s.H, s.W, s.Classes)
	}
	for i := 0; i < s.N; i++ {
		if s.Labels[i] != int32(i%10) || s.Image(i)[5] != byte(i+5) {
			t.Fatalf("image %d: label %d pixel %d", i, s.Labels[i], s.Image(i)[5])
		}
	}
}

func TestIDXErrors(t *testing.T) {
	useTempCache(t)
	good := idxBytes(idxImageMagic, []int{2, 28, 28}, make([]byte, 2*784))
	labels := idxBytes(idxLabelMagic, []int{2}, []byte{1, 2})
	cases := []struct {
		name, want  string
		images, lab []byte
	}{
		{"truncated gzip", "images-idx3-ubyte.gz", gz(good)[:len(gz(good))/2], gz(labels)},
		{"not gzip", "not a valid gzip", []byte("hello, not gzip at all"), gz(labels)},
		{"bad magic", "magic", gz(idxBytes(0x0c03, []int{2, 28, 28}, make([]byte, 2*784))), gz(labels)},
		{"short payload", "needs 1568 data bytes", gz(idxBytes(idxImageMagic, []int{2, 28, 28}, make([]byte, 1000))), gz(labels)},
		{"count mismatch", "has 3 labels", gz(good), gz(idxBytes(idxLabelMagic, []int{3}, []byte{1, 2, 3}))},
		{"bad label", "out of range", gz(good), gz(idxBytes(idxLabelMagic, []int{2}, []byte{1, 200}))},
		{"huge dims", "too large", gz(idxBytes(idxImageMagic, []int{1 << 20, 1 << 12, 28}, nil)), gz(labels)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "mnist", "train-images-idx3-ubyte.gz"), c.images)
			writeFile(t, filepath.Join(dir, "mnist", "train-labels-idx1-ubyte.gz"), c.lab)
			_, err := Load(dir, "mnist", true)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, "mnist")) {
				t.Errorf("error %v does not name the path", err)
			}
		})
	}
}

func TestMissingNamesPaths(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	for name, want := range map[string][]string{
		"mnist":         {filepath.Join(dir, "mnist", "train-images-idx3-ubyte.gz"), "autorep data fetch mnist"},
		"fashion-mnist": {filepath.Join(dir, "fashion-mnist", "train-labels-idx1-ubyte.gz")},
		"cifar10":       {filepath.Join(dir, "cifar-10-batches-bin"), filepath.Join(dir, "cifar-10-jpg"), filepath.Join(dir, "cifar-10-jpg.tar.gz")},
		"cifar100":      {filepath.Join(dir, "cifar-100-binary")},
		"tiny-imagenet": {filepath.Join(dir, "tiny-imagenet-200"), filepath.Join(dir, "tiny-imagenet-200-subset20.tar.gz")},
		"folder:nope":   {"nope", filepath.Join(dir, "nope")},
		"imagenet":      {"unknown dataset"},
	} {
		_, err := Load(dir, name, true)
		if err == nil {
			t.Fatalf("%s: no error from an empty directory", name)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", name, err, w)
			}
		}
	}
}

// writeCIFARBin writes a CIFAR-10 or -100 binary layout with n records per file.
func writeCIFARBin(t *testing.T, dir string, hundred bool, n int) {
	rec := 1 + cifarImage
	files := []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
	sub := "cifar-10-batches-bin"
	if hundred {
		rec, files, sub = 2+cifarImage, []string{"train.bin", "test.bin"}, "cifar-100-binary"
	}
	for f, name := range files {
		b := make([]byte, n*rec)
		for i := 0; i < n; i++ {
			r := b[i*rec : (i+1)*rec]
			if hundred {
				r[0] = byte(i % 20) // coarse
				r[1] = byte((i*7 + f) % 100)
			} else {
				r[0] = byte((i + f) % 10)
			}
			for j := rec - cifarImage; j < rec; j++ {
				r[j] = byte(i*3 + f + j)
			}
		}
		writeFile(t, filepath.Join(dir, sub, name), b)
	}
}

func TestCIFARBinary(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	writeCIFARBin(t, dir, false, 4)
	writeCIFARBin(t, dir, true, 5)
	tr, err := Load(dir, "cifar10", true)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 20 || tr.C != 3 || tr.H != 32 || tr.Classes != 10 || tr.ClassNames[9] != "truck" || tr.Source != filepath.Join(dir, "cifar-10-batches-bin") {
		t.Fatalf("cifar10 train N=%d C=%d classes=%d names=%v source=%s", tr.N, tr.C, tr.Classes, tr.ClassNames, tr.Source)
	}
	// record 1 of data_batch_2 (f=1): label (1+1)%10, first pixel 1*3+1+1.
	if tr.Labels[5] != 2 || tr.Image(5)[0] != 5 {
		t.Errorf("record 5: label %d pixel %d", tr.Labels[5], tr.Image(5)[0])
	}
	te, err := Load(dir, "cifar-100", false)
	if err != nil {
		t.Fatal(err)
	}
	if te.N != 5 || te.Classes != 100 || te.Labels[1] != 8 || te.ClassNames[0] != "apple" || te.Name != "cifar100" {
		t.Fatalf("cifar100 test N=%d classes=%d labels=%v name=%s", te.N, te.Classes, te.Labels, te.Name)
	}
	if got := te.Mean; !slices.Equal(got, []float32{0.5071, 0.4865, 0.4409}) {
		t.Errorf("cifar100 mean %v", got)
	}
	// A truncated batch file is an error naming it.
	p := filepath.Join(dir, "cifar-10-batches-bin", "test_batch.bin")
	b, _ := os.ReadFile(p)
	writeFile(t, p, b[:len(b)-10])
	if _, err := Load(dir, "cifar10", false); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated batch: error %v", err)
	}
	os.Remove(p)
	if _, err := Load(dir, "cifar10", false); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("missing batch: error %v", err)
	}
}

// pngBytes encodes a w×h image whose pixels depend on seed; gray makes it
// greyscale.
func pngBytes(w, h, seed int, gray bool) []byte {
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = byte(seed + i)
		}
		img = g
	} else {
		c := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c.SetNRGBA(x, y, color.NRGBA{byte(seed + x), byte(seed + y), byte(seed * 3), 255})
			}
		}
		img = c
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// folderFiles returns an ImageFolder tree: classes b, a, c (so sorting
// matters), 3 train and 2 test images each, plus a stray text file.
func folderFiles(gray bool) map[string][]byte {
	files := map[string][]byte{}
	for ci, c := range []string{"b", "a", "c"} {
		for i := 0; i < 3; i++ {
			files["train/"+c+"/img"+string(rune('0'+i))+".png"] = pngBytes(6, 5, ci*10+i, gray)
		}
		for i := 0; i < 2; i++ {
			files["test/"+c+"/t"+string(rune('0'+i))+".png"] = pngBytes(6, 5, 100+ci*10+i, gray)
		}
	}
	files["train/README.txt"] = []byte("not an image")
	return files
}

func writeTree(t *testing.T, root string, files map[string][]byte) {
	for p, b := range files {
		writeFile(t, filepath.Join(root, filepath.FromSlash(p)), b)
	}
}

func tarGz(t *testing.T, prefix string, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: prefix + n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestFolderDirAndTarAgree(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	files := folderFiles(false)
	writeTree(t, filepath.Join(dir, "imgs"), files)
	writeFile(t, filepath.Join(dir, "imgs.tar.gz"), tarGz(t, "./wrapper/", files))
	for _, train := range []bool{true, false} {
		a, err := Load(dir, "folder:imgs", train)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Load(dir, "folder:"+filepath.Join(dir, "imgs.tar.gz"), train)
		if err != nil {
			t.Fatal(err)
		}
		wantN := 9
		if !train {
			wantN = 6
		}
		if a.N != wantN || a.C != 3 || a.H != 5 || a.W != 6 || a.Classes != 3 || !slices.Equal(a.ClassNames, []string{"a", "b", "c"}) {
			t.Fatalf("dir: N=%d C=%d H=%d W=%d classes %v", a.N, a.C, a.H, a.W, a.ClassNames)
		}
		if !bytes.Equal(a.Pixels, b.Pixels) || !slices.Equal(a.Labels, b.Labels) || !slices.Equal(a.Mean, b.Mean) {
			t.Fatalf("directory and tar.gz decode differently (train=%v)", train)
		}
		// Class "a" (label 0) was written second (ci=1): its first train image has seed 10.
		if a.Labels[0] != 0 || (train && (a.Image(0)[0] != 10 || a.Image(0)[2*30] != 30)) {
			t.Errorf("first image label %d pixels %d %d", a.Labels[0], a.Image(0)[0], a.Image(0)[60])
		}
	}
	// Test split normalisation comes from the training split.
	tr, _ := Load(dir, "folder:imgs", true)
	te, _ := Load(dir, "folder:imgs", false)
	m, _ := tr.ChannelStats()
	if !slices.Equal(tr.Mean, te.Mean) || float32(m[0]) != tr.Mean[0] {
		t.Errorf("train mean %v (stats %v), test mean %v", tr.Mean, m, te.Mean)
	}
}

func TestFolderGrayAndErrors(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "g"), folderFiles(true))
	s, err := Load(dir, "folder:g", true)
	if err != nil {
		t.Fatal(err)
	}
	if s.C != 1 || s.N != 9 || s.Image(0)[7] != byte(10+7) {
		t.Fatalf("grey folder: C=%d N=%d pixel %d", s.C, s.N, s.Image(0)[7])
	}
	// Mixed sizes are an error naming the odd file.
	files := folderFiles(false)
	files["train/c/big.png"] = pngBytes(7, 5, 1, false)
	writeTree(t, filepath.Join(dir, "m"), files)
	if _, err := Load(dir, "folder:m", true); err == nil || !strings.Contains(err.Error(), "big.png") {
		t.Errorf("mixed sizes: error %v", err)
	}
	// A corrupt image names the file.
	files = folderFiles(false)
	files["train/a/img1.png"] = []byte("\x89PNG garbage")
	writeTree(t, filepath.Join(dir, "bad"), files)
	if _, err := Load(dir, "folder:bad", true); err == nil || !strings.Contains(err.Error(), filepath.Join("a", "img1.png")) {
		t.Errorf("corrupt image: error %v", err)
	}
	// A truncated archive names the archive.
	arch := tarGz(t, "", folderFiles(false))
	p := filepath.Join(dir, "trunc.tar.gz")
	writeFile(t, p, arch[:len(arch)/2])
	if _, err := Load(dir, "folder:"+p, true); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated archive: error %v", err)
	}
	// A symbolic-link loop is reported, not followed forever.
	writeTree(t, filepath.Join(dir, "loop"), folderFiles(false))
	if err := os.Symlink("..", filepath.Join(dir, "loop", "train", "a", "up")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "folder:loop", true); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("symlink loop: error %v", err)
	}
	// No test/ or val/ split.
	files = folderFiles(false)
	for k := range files {
		if strings.HasPrefix(k, "test/") {
			delete(files, k)
		}
	}
	writeTree(t, filepath.Join(dir, "notest"), files)
	if _, err := Load(dir, "folder:notest", false); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "notest", "val")) {
		t.Errorf("no test split: error %v", err)
	}
}

func TestKnownShapeChecked(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, c := range cifar10Names {
		files["train/"+c+"/0.png"] = pngBytes(16, 16, 1, false)
		files["test/"+c+"/0.png"] = pngBytes(16, 16, 1, false)
	}
	writeTree(t, filepath.Join(dir, "cifar-10-jpg"), files)
	if _, err := Load(dir, "cifar10", true); err == nil || !strings.Contains(err.Error(), "3x16x16, want 3x32x32") {
		t.Fatalf("16x16 cifar10: %v", err)
	}
}

func TestCIFAR10FolderClassCount(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "cifar-10-jpg"), folderFiles(false)) // 3 classes
	_, err := Load(dir, "cifar10", true)
	if err == nil || !strings.Contains(err.Error(), "has 3 classes, want 10") || !strings.Contains(err.Error(), filepath.Join(dir, "cifar-10-jpg")) {
		t.Fatalf("3-class cifar-10-jpg: %v", err)
	}
}

func TestTinyLayoutSynthetic(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	files := map[string][]byte{"wnids.txt": []byte("n02\nn01\n")}
	for ci, c := range []string{"n01", "n02"} {
		for i := 0; i < 2; i++ {
			files["train/"+c+"/images/"+c+"_"+string(rune('0'+i))+".JPEG"] = pngBytes(64, 64, ci*10+i, false) // PNG bytes, JPEG name: decoded by content
		}
		files["train/"+c+"/"+c+"_boxes.txt"] = []byte("ignored")
	}
	files["val/images/val_0.JPEG"] = pngBytes(64, 64, 50, false)
	files["val/images/val_1.JPEG"] = pngBytes(64, 64, 51, true)
	files["val/val_annotations.txt"] = []byte("val_1.JPEG\tn01\t0 0 3 3\nval_0.JPEG\tn02\t0 0 3 3\n")
	writeFile(t, filepath.Join(dir, "tiny-imagenet-200-subset20.tar.gz"), tarGz(t, "tiny-imagenet-200-subset20/", files))
	tr, err := Load(dir, "tiny-imagenet", true)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 4 || !slices.Equal(tr.ClassNames, []string{"n01", "n02"}) || !slices.Equal(tr.Labels, []int32{0, 0, 1, 1}) || tr.C != 3 {
		t.Fatalf("tiny train N=%d classes=%v labels=%v C=%d", tr.N, tr.ClassNames, tr.Labels, tr.C)
	}
	va, err := Load(dir, "tiny-imagenet", false)
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by file name: val_0 (n02), val_1 (n01, grey → replicated).
	if va.N != 2 || !slices.Equal(va.Labels, []int32{1, 0}) || va.C != 3 {
		t.Fatalf("tiny val N=%d labels=%v C=%d", va.N, va.Labels, va.C)
	}
	img := va.Image(1)
	if img[0] != 51 || img[4096] != 51 || img[8192] != 51 {
		t.Errorf("grey val image not replicated: %d %d %d", img[0], img[4096], img[8192])
	}
	// Unknown class in the annotations.
	files["val/val_annotations.txt"] = []byte("val_0.JPEG\tn99\t0 0 3 3\n")
	os.MkdirAll(filepath.Join(dir, "tiny-imagenet-200"), 0o755) // takes precedence over the archive
	writeTree(t, filepath.Join(dir, "tiny-imagenet-200"), files)
	if _, err := Load(dir, "tiny-imagenet", false); err == nil || !strings.Contains(err.Error(), "n99") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "tiny-imagenet-200", "val", "val_annotations.txt")) {
		t.Errorf("bad annotation: error %v", err)
	}
}
