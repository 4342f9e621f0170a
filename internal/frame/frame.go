// Package frame holds what the serve and dealer session protocols share
// about their error frames: a 4-byte tag, then a reason a peer may read.
package frame

// MaxReason bounds the reason carried by an error frame, in bytes.
const MaxReason = 200

// Error encodes a refusal or error frame: tag, then reason cut to
// MaxReason bytes.
func Error(tag, reason string) []byte {
	if len(reason) > MaxReason {
		reason = reason[:MaxReason]
	}
	return append([]byte(tag), reason...)
}

// Reason reports whether b is an error frame with tag and returns its
// reason, at most MaxReason bytes with anything but printable ASCII
// replaced by '?': the peer chose those bytes.
func Reason(tag string, b []byte) (string, bool) {
	if len(b) < len(tag) || string(b[:len(tag)]) != tag {
		return "", false
	}
	b = b[len(tag):min(len(b), len(tag)+MaxReason)]
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			out[i] = c
		} else {
			out[i] = '?'
		}
	}
	return string(out), true
}
