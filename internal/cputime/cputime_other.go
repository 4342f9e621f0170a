//go:build !unix

package cputime

import "time"

// Process is unavailable on this platform.
func Process() (time.Duration, bool) { return 0, false }

// PeakRSS is unavailable on this platform.
func PeakRSS() int64 { return 0 }
