package transport

import "time"

// Link describes a network for the communication cost model.
type Link struct {
	Name string
	// RTT is the round-trip time.
	RTT time.Duration
	// BitsPerSecond is the bandwidth.
	BitsPerSecond float64
}

// The two settings of DESIGN §2.4 (Cheetah's).
var (
	LAN = Link{Name: "LAN", RTT: 300 * time.Microsecond, BitsPerSecond: 3e9}
	WAN = Link{Name: "WAN", RTT: 40 * time.Millisecond, BitsPerSecond: 400e6}
)

// CommTime estimates the time the traffic c takes on link l:
// Rounds × RTT + (BytesSent + BytesRecv) × 8 / bandwidth. Charging a full
// round trip per round and both directions to one pipe is conservative (a
// simultaneous exchange needs only a one-way delay, and a full-duplex link
// carries both directions at once); add compute time for the end-to-end
// estimate.
func (l Link) CommTime(c Counts) time.Duration {
	t := time.Duration(c.Rounds) * l.RTT
	if l.BitsPerSecond > 0 {
		t += time.Duration(float64(c.Bytes()) * 8 / l.BitsPerSecond * float64(time.Second))
	}
	return t
}
