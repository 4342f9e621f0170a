package data

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
// missing, so the mirror fallback is used), cifar10 (.tar.gz) and
// tiny-imagenet (.zip), served by a local httptest server.
func testCatalog(t *testing.T) (*fakeServer, string) {
	t.Helper()
	src := t.TempDir()
	writeMNIST(t, src, "m", 12)
	writeCIFARBin(t, src, false, 2)
	srv := &fakeServer{files: map[string][]byte{}, hits: map[string]int{}}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	old := catalog
	t.Cleanup(func() { catalog = old })
	catalog = map[string][]remote{}
	for _, f := range idxFileNames {
		b, err := os.ReadFile(filepath.Join(src, "m", f))
		if err != nil {
			t.Fatal(err)
		}
		srv.files["/mirror/"+f] = b
		catalog["mnist"] = append(catalog["mnist"], remote{urls: []string{ts.URL + "/missing/" + f, ts.URL + "/mirror/" + f},
			file: f, sum: sha(b), subdir: "mnist"})
	}
	cf := map[string][]byte{}
	for _, n := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		b, _ := os.ReadFile(filepath.Join(src, "cifar-10-batches-bin", n))
		cf[n] = b
	}
	cf["batches.meta.txt"] = []byte(strings.Join(cifar10Names, "\n") + "\n")
	arch := tarGz(t, "cifar-10-batches-bin/", cf)
	srv.files["/c10.tgz"] = arch
	catalog["cifar10"] = []remote{{urls: []string{ts.URL + "/c10.tgz"}, file: "cifar-10-binary.tar.gz", sum: sha(arch), extract: true}}
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
	if !strings.Contains(log.String(), "train-images-idx3-ubyte.gz") || !strings.Contains(log.String(), "extracting") {
		t.Errorf("progress output:\n%s", log.String())
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
	// Corrupted download: checksum mismatch, nothing left behind.
	good := srv.files["/c10.tgz"]
	srv.files["/c10.tgz"] = append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1)
	_, err := Fetch(context.Background(), dir, "cifar10", FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("corrupt download: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("corrupt download left %v", ents)
	}
	srv.files["/c10.tgz"] = good
	// All URLs failing reports each.
	delete(srv.files, "/mirror/train-images-idx3-ubyte.gz")
	_, err = Fetch(context.Background(), dir, "mnist", FetchOptions{})
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
