//go:build !linux

package otgates

import "time"

// threadCPU is unavailable off Linux: Bench then reports no per-thread
// rate.
func threadCPU() (time.Duration, bool) { return 0, false }
