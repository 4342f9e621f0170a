package data

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// cacheFiles lists the cache files in d.
func cacheFiles(t *testing.T, d string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d, "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCacheRoundTripAndCorruption(t *testing.T) {
	cache := useTempCache(t)
	dir := t.TempDir()
	writeCIFARBin(t, dir, false, 3)
	first, err := Load(dir, "cifar10", true)
	if err != nil {
		t.Fatal(err)
	}
	files := cacheFiles(t, cache)
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	// The cache file decodes to the same set.
	again, err := Load(dir, "cifar10", true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Pixels, again.Pixels) || !slices.Equal(first.Labels, again.Labels) || !slices.Equal(first.ClassNames, again.ClassNames) {
		t.Fatal("cached set differs from the decoded one")
	}
	// Prove the second load came from the cache: a cache file whose pixels
	// were changed (with a valid checksum) is served as is.
	s2 := *again
	s2.Pixels = bytes.Clone(again.Pixels)
	s2.Pixels[0] ^= 0xff
	k := keyOf(t, files[0])
	if err := writeCache(files[0], k, &s2); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, "cifar10", true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pixels[0] != s2.Pixels[0] {
		t.Fatal("second load did not read the cache")
	}
	// Corruptions: flipped byte, truncation, garbage, empty → re-decode.
	good, _ := os.ReadFile(files[0])
	for name, bad := range map[string][]byte{
		"flipped":   func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }(),
		"truncated": good[:len(good)-7],
		"garbage":   []byte("ARDSET01 but not really"),
		"empty":     nil,
	} {
		if err := os.WriteFile(files[0], bad, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir, "cifar10", true)
		if err != nil {
			t.Fatalf("%s cache: %v", name, err)
		}
		if !bytes.Equal(got.Pixels, first.Pixels) {
			t.Fatalf("%s cache: pixels differ from a fresh decode", name)
		}
		if _, err := readCache(files[0], k); err != nil {
			t.Fatalf("%s cache was not rewritten: %v", name, err)
		}
	}
	// Changing the source changes the key: a new cache file (replacing the
	// old one), new pixels.
	p := filepath.Join(dir, "cifar-10-batches-bin", "data_batch_3.bin")
	b, _ := os.ReadFile(p)
	b[1] = 77
	writeFile(t, p, b)
	os.Chtimes(p, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	got, err = Load(dir, "cifar10", true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Image(6)[0] != 77 {
		t.Errorf("changed source not re-decoded: pixel %d", got.Image(6)[0])
	}
	if now := cacheFiles(t, cache); len(now) != 1 || now[0] == files[0] {
		t.Errorf("cache files after the source changed: %v (before: %v)", now, files)
	}
	// The test split is cached separately and does not evict the train split.
	if _, err := Load(dir, "cifar10", false); err != nil {
		t.Fatal(err)
	}
	if n := len(cacheFiles(t, cache)); n != 2 {
		t.Errorf("%d cache files for two splits, want 2", n)
	}
}

// keyOf reads the key stored in a cache file.
func keyOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(b, []byte(`"key":"`)) + len(`"key":"`)
	end := bytes.IndexByte(b[start:], '"')
	return string(b[start : start+end])
}

func TestCacheUnwritable(t *testing.T) {
	old := cacheDirOverride
	t.Cleanup(func() { cacheDirOverride = old })
	// A cache "directory" that is a file cannot be created: loading still works.
	f := filepath.Join(t.TempDir(), "file")
	writeFile(t, f, []byte("x"))
	cacheDirOverride = filepath.Join(f, "sub")
	dir := t.TempDir()
	writeMNIST(t, dir, "mnist", 3)
	if s, err := Load(dir, "mnist", false); err != nil || s.N != 3 {
		t.Fatalf("load with an unusable cache: %v", err)
	}
}
