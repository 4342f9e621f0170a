package data

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// tree is a read-only directory tree: a directory on disk or the contents of
// a .tar.gz held in memory. Paths are relative and slash-separated; "" is the
// root.
type tree interface {
	// list returns the entries of directory p sorted by name.
	list(p string) ([]dirEntry, error)
	// read returns the contents of file p.
	read(p string) ([]byte, error)
	// where describes p for error messages (a file path, or archive:member).
	where(p string) string
}

// dirEntry is one directory entry of a tree.
type dirEntry struct {
	name string
	dir  bool
}

// osTree is a directory on disk.
type osTree struct{ root string }

func (t osTree) list(p string) ([]dirEntry, error) {
	ents, err := os.ReadDir(t.where(p))
	if err != nil {
		return nil, err
	}
	out := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		dir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(filepath.Join(t.where(p), e.Name())); err == nil {
				dir = st.IsDir()
			}
		}
		out = append(out, dirEntry{name: e.Name(), dir: dir})
	}
	return out, nil // os.ReadDir sorts by name
}

func (t osTree) read(p string) ([]byte, error) { return os.ReadFile(t.where(p)) }

func (t osTree) where(p string) string { return filepath.Join(t.root, filepath.FromSlash(p)) }

// memTree is an archive's files held in memory.
type memTree struct {
	archive string
	files   map[string][]byte
	dirs    map[string]map[string]bool // dir -> child name -> is dir
}

func (t *memTree) list(p string) ([]dirEntry, error) {
	kids, ok := t.dirs[p]
	if !ok {
		return nil, fmt.Errorf("%s: no such directory in the archive", t.where(p))
	}
	out := make([]dirEntry, 0, len(kids))
	for n, d := range kids {
		out = append(out, dirEntry{name: n, dir: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (t *memTree) read(p string) ([]byte, error) {
	b, ok := t.files[p]
	if !ok {
		return nil, fmt.Errorf("%s: no such file in the archive", t.where(p))
	}
	if b == nil {
		return nil, fmt.Errorf("%s: not loaded from the archive", t.where(p))
	}
	return b, nil
}

func (t *memTree) where(p string) string { return t.archive + ":" + p }

// add records a file and registers it (and its parent directories) in the
// directory listing.
func (t *memTree) add(name string, b []byte) {
	t.files[name] = b
	child, isDir := name, false
	for {
		dir := path.Dir(child)
		if dir == "." {
			dir = ""
		}
		kids := t.dirs[dir]
		if kids == nil {
			kids = map[string]bool{}
			t.dirs[dir] = kids
		}
		base := path.Base(child)
		_, seen := kids[base]
		kids[base] = kids[base] || isDir
		if seen || dir == "" {
			return // the ancestors are registered already
		}
		child, isDir = dir, true
	}
}

// maxMember bounds one archive member; dataset images are kilobytes.
const maxMember = 64 << 20

// readTarGz lists every regular member of a .tar.gz and loads the contents
// of those keep(name) selects (the others are listed but cannot be read).
func readTarGz(archive string, keep func(name string) bool) (*memTree, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid gzip file: %w", archive, err)
	}
	defer zr.Close()
	t := &memTree{archive: archive, files: map[string][]byte{}, dirs: map[string]map[string]bool{"": {}}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: corrupt or truncated archive: %w", archive, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue
		}
		if !keep(name) {
			t.add(name, nil)
			continue
		}
		if h.Size > maxMember {
			return nil, fmt.Errorf("%s: member %s is %d bytes, too large for a dataset file", archive, name, h.Size)
		}
		b := make([]byte, h.Size)
		if _, err := io.ReadFull(tr, b); err != nil {
			return nil, fmt.Errorf("%s: member %s: corrupt or truncated archive: %w", archive, name, err)
		}
		t.add(name, b)
	}
	return t, nil
}

// isImageName reports whether a file name has an image extension we decode.
func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// splitMembers selects the archive members one split may need: the text
// files listing classes and annotations, and the images under a train/
// directory (train=true) or a test/ or val/ directory (train=false).
func splitMembers(train bool) func(name string) bool {
	return func(name string) bool {
		switch path.Base(name) {
		case "wnids.txt", "val_annotations.txt":
			return true
		}
		if !isImageName(name) {
			return false
		}
		for _, c := range strings.Split(path.Dir(name), "/") {
			if train && c == "train" || !train && (c == "test" || c == "val") {
				return true
			}
		}
		return false
	}
}

// hasDir reports whether directory p of t has a subdirectory called name.
func hasDir(t tree, p, name string) bool {
	ents, err := t.list(p)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.dir && e.name == name {
			return true
		}
	}
	return false
}

// findRoot returns the directory of t that holds train/: the root itself or
// one of its immediate subdirectories (archives often wrap the tree in one).
func findRoot(t tree) (string, error) {
	if hasDir(t, "", "train") {
		return "", nil
	}
	ents, err := t.list("")
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if e.dir && hasDir(t, e.name, "train") {
			return e.name, nil
		}
	}
	return "", fmt.Errorf("no train/ directory in %s or its subdirectories", t.where(""))
}

// join joins slash paths relative to a tree root.
func join(elem ...string) string {
	return strings.TrimPrefix(path.Join(elem...), "/")
}
