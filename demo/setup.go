package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/serve/secnet"
)

// TestImages loads MNIST's test split from the data directory dir,
// fetching MNIST first (data.Fetch, progress on w) when it is not there.
func TestImages(ctx context.Context, dir string, w io.Writer) (*data.Set, error) {
	test, err := data.Load(dir, "mnist", false)
	if err == nil {
		return test, nil
	}
	fmt.Fprintf(w, "MNIST not found (%v); downloading it\n", err)
	if _, ferr := data.Fetch(ctx, dir, "mnist", data.FetchOptions{Progress: w}); ferr != nil {
		return nil, fmt.Errorf("MNIST is not under %s and could not be downloaded: %w", dir, ferr)
	}
	return data.Load(dir, "mnist", false)
}

// Cert returns the demo's self-signed loopback certificate and key in
// dir, generating them unless both are there.
func Cert(dir string) (cert, key string, err error) {
	cert, key = filepath.Join(dir, secnet.CertName), filepath.Join(dir, secnet.KeyName)
	if exists(cert) && exists(key) {
		return cert, key, nil
	}
	return secnet.GenerateSelfSigned(dir, []string{"127.0.0.1", "localhost"}, 0)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
