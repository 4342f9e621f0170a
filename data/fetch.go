package data

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/autorep/autorep/internal/progress"
)

// remote is one file of a dataset download.
type remote struct {
	// urls are tried in order.
	urls []string
	// file is the name the download is saved under.
	file string
	// sum is "md5:HEX" or "sha256:HEX" ("" = not verified).
	sum string
	// subdir is the directory (relative to the data directory) a plain file
	// goes to; archives (extract=true) are unpacked into the data directory.
	subdir  string
	extract bool
}

// catalog lists the canonical downloads by dataset name. Tests replace it
// to point at a local server.
var catalog = map[string][]remote{
	"mnist":         idxRemotes("mnist", []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"}, mnistSums),
	"fashion-mnist": idxRemotes("fashion-mnist", []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"}, fashionSums),
	"cifar10": {{urls: []string{"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"}, file: "cifar-10-binary.tar.gz",
		sum: "md5:c32a1d4ab5d03f1284b67883e8d87530", extract: true}},
	"cifar100": {{urls: []string{"https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}, file: "cifar-100-binary.tar.gz",
		sum: "md5:03b5dce01913d631647c71ecec9e9cb8", extract: true}},
	"tiny-imagenet": {{urls: []string{"http://cs231n.stanford.edu/tiny-imagenet-200.zip"}, file: "tiny-imagenet-200.zip",
		sum: "md5:90528d7ca1a48142e341f4ef8d21d0de", extract: true}},
}

// idxFileNames are the four files of an MNIST-style dataset.
var idxFileNames = []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}

var mnistSums = []string{
	"sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
	"sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
	"sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
	"sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

var fashionSums = []string{
	"sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
	"sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
	"sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
	"sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

func idxRemotes(subdir string, bases, sums []string) []remote {
	out := make([]remote, len(idxFileNames))
	for i, f := range idxFileNames {
		urls := make([]string, len(bases))
		for j, b := range bases {
			urls[j] = b + f
		}
		out[i] = remote{urls: urls, file: f, sum: sums[i], subdir: subdir}
	}
	return out
}

// FetchOptions configures Fetch.
type FetchOptions struct {
	// Progress receives progress bars and messages (nil = silent).
	Progress io.Writer
	// Force downloads again even if the dataset is already present.
	Force bool
	// Mirror, if set, replaces the canonical URLs: each file is fetched
	// from Mirror + "/" + its file name.
	Mirror string
	// Client is the HTTP client (nil = one with connection and header
	// timeouts but no overall time limit).
	Client *http.Client
}

// Fetchable returns the dataset names Fetch can download.
func Fetchable() []string {
	var out []string
	for _, n := range Names() {
		if _, ok := catalog[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Fetch downloads a dataset from its canonical source into dir (created if
// needed), verifies the checksums, and unpacks archives, leaving the layout
// Load expects. Downloads go to a temporary ".part" file that is renamed
// into place only once complete and verified. If the dataset already loads
// from dir, Fetch does nothing unless opts.Force is set. It returns the
// directory or file the dataset is now in.
func Fetch(ctx context.Context, dir, name string, opts FetchOptions) (string, error) {
	info, ok := Lookup(name)
	if !ok {
		return "", fmt.Errorf("unknown dataset %q (fetchable: %s)", name, strings.Join(Fetchable(), ", "))
	}
	files, ok := catalog[info.Name]
	if !ok {
		return "", fmt.Errorf("%s cannot be downloaded (fetchable: %s)", info.Name, strings.Join(Fetchable(), ", "))
	}
	msg := func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", a...)
		}
	}
	if !opts.Force {
		if src, err := present(dir, info.Name); err == nil {
			msg("%s is already present in %s", info.Name, src)
			return src, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the data directory: %w", err)
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		}}
	}
	for _, r := range files {
		urls := r.urls
		if opts.Mirror != "" {
			urls = []string{strings.TrimSuffix(opts.Mirror, "/") + "/" + r.file}
		}
		target := filepath.Join(dir, r.subdir, r.file)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return "", err
		}
		if err := downloadAny(ctx, client, urls, target, r.sum, opts.Progress); err != nil {
			return "", fmt.Errorf("fetching %s: %w", info.Name, err)
		}
		if r.extract {
			msg("extracting %s", target)
			if err := extract(target, dir); err != nil {
				return "", fmt.Errorf("fetching %s: %w", info.Name, err)
			}
			if err := os.Remove(target); err != nil {
				return "", err
			}
		}
	}
	src, err := present(dir, info.Name)
	if err != nil {
		return "", fmt.Errorf("fetched %s but it does not load: %w", info.Name, err)
	}
	msg("%s is ready in %s", info.Name, src)
	return src, nil
}

// fetchLayout is the directory each download produces, relative to the
// data directory.
var fetchLayout = map[string]string{
	"mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar-10-batches-bin",
	"cifar100": "cifar-100-binary", "tiny-imagenet": "tiny-imagenet-200",
}

// present checks that both splits of a dataset can be located in dir in the
// layout Fetch produces (the files exist; they are not decoded) and returns
// where. Another layout (e.g. the CIFAR-10 JPEG copy) does not count.
func present(dir, name string) (string, error) {
	var where string
	for _, train := range []bool{true, false} {
		src, _, err := locate(dir, name, train)
		if err != nil {
			return "", err
		}
		if want := filepath.Join(dir, fetchLayout[name]); src.where != want {
			return "", fmt.Errorf("found %s, not %s", src.where, want)
		}
		where = src.where
	}
	return where, nil
}

// downloadAny tries each URL in turn.
func downloadAny(ctx context.Context, c *http.Client, urls []string, target, sum string, progressOut io.Writer) error {
	var errs []error
	for _, u := range urls {
		err := download(ctx, c, u, target, sum, progressOut)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// newHash returns the hash named by a "md5:HEX" / "sha256:HEX" checksum and
// the expected hex digest (nil hash when sum is empty).
func newHash(sum string) (hash.Hash, string, error) {
	if sum == "" {
		return nil, "", nil
	}
	alg, want, ok := strings.Cut(sum, ":")
	if !ok {
		return nil, "", fmt.Errorf("bad checksum %q", sum)
	}
	switch alg {
	case "md5":
		return md5.New(), want, nil
	case "sha256":
		return sha256.New(), want, nil
	}
	return nil, "", fmt.Errorf("unknown checksum algorithm %q", alg)
}

// download fetches url into target atomically, verifying sum. If target
// already exists with the right checksum it is kept.
func download(ctx context.Context, c *http.Client, url, target, sum string, progressOut io.Writer) error {
	if sum != "" {
		if err := verifyFile(target, sum); err == nil {
			return nil
		}
	}
	// A download that receives nothing for stallTimeout is abandoned.
	parent := ctx
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	watchdog := time.AfterFunc(stallTimeout, cancel)
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	part := target + ".part"
	f, err := os.Create(part)
	if err != nil {
		return err
	}
	defer os.Remove(part) // no-op after the rename
	h, want, err := newHash(sum)
	if err != nil {
		f.Close()
		return err
	}
	var w io.Writer = f
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	total := resp.ContentLength
	bar := progress.New(progressOut, path.Base(url), int(max(total, 0)/1024), "KiB")
	n, err := io.Copy(w, &countingReader{r: resp.Body, bar: bar, alive: func() { watchdog.Reset(stallTimeout) }})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			return fmt.Errorf("GET %s: no data for %v: %w", url, stallTimeout, err)
		}
		return fmt.Errorf("GET %s: %w", url, err)
	}
	bar.Finish("")
	if total >= 0 && n != total {
		return fmt.Errorf("GET %s: got %d of %d bytes", url, n, total)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
			return fmt.Errorf("GET %s: checksum mismatch: got %s, want %s", url, got, sum)
		}
	}
	return os.Rename(part, target)
}

// verifyFile checks a file against a checksum.
func verifyFile(p, sum string) error {
	h, want, err := newHash(sum)
	if err != nil || h == nil {
		return errors.New("no checksum")
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("%s: checksum %s, want %s", p, got, want)
	}
	return nil
}

// stallTimeout is how long a download may receive nothing before it is
// abandoned (a variable so tests can shorten it).
var stallTimeout = 60 * time.Second

// countingReader reports bytes read to a progress bar and signals progress
// to the stall watchdog.
type countingReader struct {
	r     io.Reader
	n     int64
	bar   *progress.Bar
	alive func()
}

// Read reads from the underlying reader and updates the bar.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.alive()
	}
	c.n += int64(n)
	c.bar.Set(int(c.n/1024), "")
	return n, err
}

// extract unpacks a .tar.gz or .zip archive into dir. It is unpacked into a
// temporary directory first; each top-level entry is then renamed into dir,
// replacing an existing (incomplete) one.
func extract(archive, dir string) error {
	tmp, err := os.MkdirTemp(dir, ".extract-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if strings.HasSuffix(archive, ".zip") {
		err = extractZip(archive, tmp)
	} else {
		err = extractTarGz(archive, tmp)
	}
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		dst := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, e.Name()), dst); err != nil {
			return err
		}
	}
	return nil
}

// safeJoin returns root/name for an archive member name, rejecting names
// that would escape root.
func safeJoin(root, name string) (string, error) {
	clean := path.Clean(strings.ReplaceAll(name, "\\", "/"))
	if clean == "." || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("unsafe archive member name %q", name)
	}
	return filepath.Join(root, filepath.FromSlash(clean)), nil
}

// writeMember writes one regular file of an archive.
func writeMember(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func extractTarGz(archive, root string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: not a valid gzip file: %w", archive, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: corrupt archive: %w", archive, err)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			continue // links and devices are not part of datasets
		}
		p, err := safeJoin(root, h.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := writeMember(p, tr); err != nil {
			return fmt.Errorf("%s: member %s: %w", archive, h.Name, err)
		}
	}
}

func extractZip(archive, root string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("%s: not a valid zip file: %w", archive, err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		p, err := safeJoin(root, zf.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if zf.FileInfo().IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if !zf.Mode().IsRegular() {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("%s: member %s: %w", archive, zf.Name, err)
		}
		err = writeMember(p, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: member %s: %w", archive, zf.Name, err)
		}
	}
	return nil
}
