package dealer

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// fallbackMemory is DefaultMaxMemory where the machine's RAM is unknown.
const fallbackMemory = 4 << 30

var defaultMemory = sync.OnceValue(func() int64 {
	total, err := memTotal("/proc/meminfo")
	if err != nil || total <= 0 {
		return fallbackMemory
	}
	return max(total/4, 1<<30)
})

// DefaultMaxMemory is the default Server.MaxMemory: a quarter of the
// machine's RAM (MemTotal of /proc/meminfo), at least 1 GiB, or 4 GiB
// where the RAM is unknown. A quarter leaves room for Go's heap growth
// (the garbage collector lets the heap reach about twice the live data)
// and for the encoded copies being sent.
func DefaultMaxMemory() int64 { return defaultMemory() }

// memTotal reads MemTotal (bytes) from a /proc/meminfo file.
func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "MemTotal" {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: malformed MemTotal line %q", path, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
			return 0, fmt.Errorf("%s: malformed MemTotal %q", path, f[0])
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no MemTotal", path)
}

// byteUnits are the suffixes ParseBytes accepts, longest first.
var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseBytes reads a size: a number of bytes with an optional unit, binary
// (KiB, MiB, GiB, TiB, or K, M, G, T) or decimal (kB, MB, GB, TB), case
// insensitive: "4GiB", "512M", "1.5GB", "1073741824".
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: want bytes with an optional unit (e.g. 4GiB, 512MiB, 2GB)", s)
	}
	return int64(v * mult), nil
}

// FormatBytes prints a size in binary units (e.g. "1.5 GiB").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
