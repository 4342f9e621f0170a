package data

import (
	"os"
	"testing"
)

// benchLoader measures batch preparation (normalisation, augmentation) on a
// CIFAR-sized synthetic set; it reports images per second.
func benchLoader(b *testing.B, augment bool) {
	s := synthSet(4096, 3, 32, 32)
	l := NewLoader(s, LoaderConfig{Batch: 128, Shuffle: true, Augment: augment})
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		it := l.Epoch(i)
		for bt, ok := it.Next(); ok; bt, ok = it.Next() {
			n += len(bt.Y)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkLoaderPlain(b *testing.B)   { benchLoader(b, false) }
func BenchmarkLoaderAugment(b *testing.B) { benchLoader(b, true) }

// BenchmarkLoadCIFAR10Cached measures loading the CIFAR-10 training split
// from the decode cache (run once with AUTOREP_DATA set to fill it).
func BenchmarkLoadCIFAR10Cached(b *testing.B) {
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		b.Skip("AUTOREP_DATA is not set")
	}
	if _, err := Load(dir, "cifar10", true); err != nil {
		b.Skip(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(dir, "cifar10", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCIFAR10JPEG measures decoding the CIFAR-10 JPEG tarball's
// test split without the cache (JPEG decoding in parallel on all cores).
func BenchmarkDecodeCIFAR10JPEG(b *testing.B) {
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		b.Skip("AUTOREP_DATA is not set")
	}
	old := cacheDirOverride
	defer func() { cacheDirOverride = old }()
	b.Setenv("AUTOREP_CACHE", "off")
	cacheDirOverride = ""
	for i := 0; i < b.N; i++ {
		s, err := Load(dir, "cifar10", false)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(s.N)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	}
}
