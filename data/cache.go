package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// Cache file layout (little endian):
//
//	"ARDSET01"           8-byte magic
//	uint32 L             length of the JSON header
//	L bytes              JSON cacheHeader
//	N × int32            labels
//	N*C*H*W bytes        pixels
//	uint32               CRC-32C of everything before it
const cacheMagic = "ARDSET01"

// cacheHeader is the JSON header of a cache file.
type cacheHeader struct {
	Key        string    `json:"key"`
	Name       string    `json:"name"`
	Train      bool      `json:"train"`
	N          int       `json:"n"`
	C          int       `json:"c"`
	H          int       `json:"h"`
	W          int       `json:"w"`
	Classes    int       `json:"classes"`
	Mean       []float32 `json:"mean"`
	Std        []float32 `json:"std"`
	ClassNames []string  `json:"class_names"`
	Source     string    `json:"source"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// decoderVersion is part of every cache key; bump it when decoding changes
// the pixels (2: libjpeg-style fancy chroma upsampling).
const decoderVersion = 2

// cacheDirOverride replaces CacheDir in tests.
var cacheDirOverride string

// CacheDir is where decoded sets are cached: $AUTOREP_CACHE if set, else
// os.UserCacheDir()/autorep/decoded. It returns "" (no caching) when
// $AUTOREP_CACHE is "off" or no user cache directory is known.
func CacheDir() string {
	if cacheDirOverride != "" {
		return cacheDirOverride
	}
	if d := os.Getenv("AUTOREP_CACHE"); d != "" {
		if d == "off" {
			return ""
		}
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "autorep", "decoded")
}

// sourceKey fingerprints the source files of a set: their paths, sizes and
// modification times (for directories, of every file below them), so that a
// changed source invalidates the cache.
func sourceKey(kind string, train bool, paths ...string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%v\x00", cacheMagic, decoderVersion, kind, train)
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		err = filepath.WalkDir(abs, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			st, err := os.Stat(q)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", q, st.Size(), st.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("fingerprinting %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cachePath is the cache file for a split of a dataset decoded from source
// with the given key: NAME-SPLIT-SOURCEHASH-KEY.bin.
func cachePath(dir, name string, train bool, source, key string) string {
	split := "test"
	if train {
		split = "train"
	}
	safe := []byte(name)
	for i, c := range safe {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			safe[i] = '_'
		}
	}
	if len(safe) > 40 {
		safe = safe[:40]
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		abs = source
	}
	sh := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, fmt.Sprintf("%s-%s-%x-%s.bin", safe, split, sh[:4], key[:16]))
}

// pruneCache removes the cache files decoded from an older version of the
// same source (same name, split and source path; another key).
func pruneCache(path string) {
	base := filepath.Base(path)
	prefix := base[:len(base)-len("0123456789abcdef.bin")]
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), prefix+"*.bin"))
	for _, p := range old {
		if p != path && len(filepath.Base(p)) == len(base) {
			os.Remove(p)
		}
	}
}

// writeCache stores s at path atomically (temporary file, then rename).
func writeCache(path, key string, s *Set) error {
	hdr, err := json.Marshal(cacheHeader{Key: key, Name: s.Name, Train: s.Train, N: s.N, C: s.C, H: s.H, W: s.W,
		Classes: s.Classes, Mean: s.Mean, Std: s.Std, ClassNames: s.ClassNames, Source: s.Source})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	crc := crc32.New(castagnoli)
	head := make([]byte, 12, 12+len(hdr))
	copy(head, cacheMagic)
	binary.LittleEndian.PutUint32(head[8:], uint32(len(hdr)))
	head = append(head, hdr...)
	labels := make([]byte, 4*len(s.Labels))
	for i, l := range s.Labels {
		binary.LittleEndian.PutUint32(labels[4*i:], uint32(l))
	}
	for _, part := range [][]byte{head, labels, s.Pixels} {
		crc.Write(part)
		if _, err := f.Write(part); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// readCache loads a cache file written by writeCache and checks its magic,
// sizes, checksum and key.
func readCache(path, key string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCache(b, key)
}

// parseCache decodes the bytes of a cache file (the Set's pixels alias b).
func parseCache(b []byte, key string) (*Set, error) {
	if len(b) < 16 || string(b[:8]) != cacheMagic {
		return nil, errors.New("not a cache file")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("checksum mismatch")
	}
	hl := int(binary.LittleEndian.Uint32(b[8:]))
	if hl < 0 || hl > len(body)-12 {
		return nil, errors.New("header length out of range")
	}
	var h cacheHeader
	if err := json.Unmarshal(body[12:12+hl], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Key != key {
		return nil, errors.New("key mismatch")
	}
	rest := body[12+hl:]
	if h.N < 0 || h.C <= 0 || h.H <= 0 || h.W <= 0 || int64(len(rest)) != int64(h.N)*(4+int64(h.C)*int64(h.H)*int64(h.W)) {
		return nil, fmt.Errorf("size %d does not match header (N=%d C=%d H=%d W=%d)", len(rest), h.N, h.C, h.H, h.W)
	}
	s := &Set{Name: h.Name, Train: h.Train, N: h.N, C: h.C, H: h.H, W: h.W, Classes: h.Classes,
		Mean: h.Mean, Std: h.Std, ClassNames: h.ClassNames, Source: h.Source,
		Labels: make([]int32, h.N), Pixels: rest[4*h.N:]}
	for i := range s.Labels {
		s.Labels[i] = int32(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}
