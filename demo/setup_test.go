package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCert: the first call writes a certificate and key, the next reuses
// them unchanged, and a missing key makes a new pair.
func TestCert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	cert, key, err := Cert(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(cert)
	if err != nil || filepath.Dir(cert) != dir || filepath.Dir(key) != dir {
		t.Fatalf("%s, %s: %v", cert, key, err)
	}
	c2, k2, err := Cert(dir)
	if again, _ := os.ReadFile(c2); err != nil || c2 != cert || k2 != key || !bytes.Equal(again, first) {
		t.Errorf("second call: %s, %s, %v (same certificate: %v)", c2, k2, err, bytes.Equal(again, first))
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Cert(dir); err != nil {
		t.Fatal(err)
	}
	if renewed, _ := os.ReadFile(cert); bytes.Equal(renewed, first) {
		t.Error("a missing key kept the old certificate")
	}
}

// TestTestImages: MNIST's test split loads from $AUTOREP_DATA; from an
// empty directory, with the download cancelled, the error says MNIST is
// neither there nor downloadable.
func TestTestImages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	empty := t.TempDir()
	var log bytes.Buffer
	if _, err := TestImages(ctx, empty, &log); err == nil || !strings.Contains(err.Error(), "MNIST is not under "+empty+" and could not be downloaded") ||
		!strings.Contains(log.String(), "MNIST not found") {
		t.Errorf("empty dir: %v; log %q", err, log.String())
	}
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the MNIST load")
	}
	test, err := TestImages(ctx, dir, &log)
	if err != nil {
		t.Skipf("mnist not available: %v", err)
	}
	if test.N != 10000 || test.Classes != 10 {
		t.Errorf("%d images, %d classes", test.N, test.Classes)
	}
}
