// Package privacytest holds the privacy properties every two-party
// protocol suite must have, written against what a party receives (its
// messages, recorded at the transport, and the correlated randomness its
// source gives it), so that any suite — today's dealer protocols of package
// mpc, a future dealer-free one — can be checked by the same functions.
//
// A suite's test binds a protocol to a Case (how to run it once between the
// two parties in a fresh session, and which secret words each party holds)
// and calls Check; two inferences in one session are compared with Fresh.
// The properties:
//
//   - Uniform: every word of every message a party receives, and every
//     word of its material meant to be uniform on its own (explicit shares),
//     pooled per position over independent sessions, passes a per-bit
//     frequency test and chi-square tests on all sixteen 4-bit windows.
//   - SameDistribution: the same positions under two sets of secrets (of
//     the same distribution) pass a chi-square homogeneity test per window.
//   - NoSecrets: no secret word of the other party, nor k times it for
//     k = ±1..±4, occurs anywhere in a party's received bytes or material.
//   - Fresh: two runs of the same inputs in one session share no message
//     word at the same position.
//
// Thresholds are at a false-alarm probability of about 10^−6 per test;
// tests use fixed seeds, so results are reproducible, and a broken protocol
// (a constant, small or reused value) exceeds them by orders of magnitude.
// The package depends only on transport (for the Recorder).
package privacytest

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/autorep/autorep/transport"
)

// Recorder is a transport.Conn that keeps a copy of every message it
// receives. It forwards SendAsync when the wrapped connection has it, so
// transport.Exchange behaves as on the wrapped connection.
type Recorder struct {
	transport.Conn
	mu   sync.Mutex
	msgs [][]byte
}

// NewRecorder wraps c.
func NewRecorder(c transport.Conn) *Recorder { return &Recorder{Conn: c} }

// Recv receives the next message and records it.
func (r *Recorder) Recv() ([]byte, error) {
	b, err := r.Conn.Recv()
	if err == nil {
		r.mu.Lock()
		r.msgs = append(r.msgs, append([]byte(nil), b...))
		r.mu.Unlock()
	}
	return b, err
}

// SendAsync sends b, asynchronously if the wrapped connection can.
func (r *Recorder) SendAsync(b []byte) <-chan error {
	if a, ok := r.Conn.(transport.AsyncSender); ok {
		return a.SendAsync(b)
	}
	ch := make(chan error, 1)
	ch <- r.Conn.Send(b)
	return ch
}

// Len returns the number of messages received so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Messages returns the messages received from the from-th on.
func (r *Recorder) Messages(from int) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if from > len(r.msgs) {
		from = len(r.msgs)
	}
	return append([][]byte(nil), r.msgs[from:]...)
}

// View is what one party received in one run.
type View struct {
	// Msgs are the peer's messages, in order. Check reads them as
	// little-endian 64-bit words and rejects other lengths (a suite with
	// bit-packed messages would need byte-level variants of the tests).
	Msgs [][]byte
	// Material is the encoded correlated randomness the party received
	// (searched for secrets; keys need not be uniform byte by byte).
	Material [][]byte
	// Uniform are the parts of the material that must be uniform on their
	// own (explicit shares), one slice per vector, in a fixed order.
	Uniform [][]uint64
	// Secrets are this party's secrets in the run (its inputs, parameters,
	// shares the peer must never see): Check searches the peer's view.
	Secrets []Secret
}

// Secret is a named list of secret words (fixed-point encodings as they
// would appear on the wire, little-endian).
type Secret struct {
	Name  string
	Words []uint64
}

// Case is one protocol as a suite runs it.
type Case struct {
	Name string
	// Run runs the protocol once between the two parties in a fresh
	// session whose randomness is chosen by seed, with the parties' secrets
	// of variant 0 or 1 (two draws of the same distribution), and returns
	// the server's (index 0) and the client's (index 1) views.
	Run func(t testing.TB, seed uint64, variant int) [2]View
	// Runs is the number of sessions pooled per variant (at least 1).
	Runs int
}

// Check runs c.Runs sessions for each of two variants and asserts, for
// each party, Uniform on every message and material position, NoSecrets
// (the other party's secrets) and NoRepeats on every view and
// SameDistribution between the variants on every position.
func Check(t *testing.T, c Case) {
	t.Helper()
	runs := max(c.Runs, 1)
	var pooled [2][2]positions // [variant][party]
	for v := range 2 {
		for i := range runs {
			views := c.Run(t, uint64(1000*v+i+1), v)
			if t.Failed() {
				return
			}
			for p := range 2 {
				who := fmt.Sprintf("%s: %s (variant %d, run %d)", c.Name, party(p), v, i)
				NoSecrets(t, who, views[p], views[1-p].Secrets)
				NoRepeats(t, who, views[p])
				if err := pooled[v][p].add(views[p]); err != nil {
					t.Fatalf("%s: %v", who, err)
				}
			}
		}
	}
	for p := range 2 {
		for v := range 2 {
			pooled[v][p].each(func(pos string, w []uint64) {
				Uniform(t, fmt.Sprintf("%s: %s variant %d %s", c.Name, party(p), v, pos), w)
			})
		}
		a, b := pooled[0][p], pooled[1][p]
		if len(a.names) != len(b.names) {
			t.Errorf("%s: %s receives %d positions under one variant and %d under the other", c.Name, party(p), len(a.names), len(b.names))
			continue
		}
		for j, name := range a.names {
			SameDistribution(t, fmt.Sprintf("%s: %s %s", c.Name, party(p), name), a.words[j], b.words[j])
		}
	}
}

func party(p int) string {
	if p == 0 {
		return "server"
	}
	return "client"
}

// positions pools the words of a party's views per message and material
// position.
type positions struct {
	names []string
	words [][]uint64
	runs  int
}

func (ps *positions) add(v View) error {
	var parts [][]uint64
	var names []string
	for i, m := range v.Msgs {
		if len(m)%8 != 0 {
			return fmt.Errorf("message %d has %d bytes, not whole words", i, len(m))
		}
		parts = append(parts, Words(m))
		names = append(names, fmt.Sprintf("message %d", i))
	}
	for i, u := range v.Uniform {
		parts = append(parts, u)
		names = append(names, fmt.Sprintf("material vector %d", i))
	}
	if ps.runs == 0 {
		ps.names, ps.words = names, make([][]uint64, len(parts))
	} else if len(names) != len(ps.names) {
		return fmt.Errorf("%d positions, earlier runs had %d", len(names), len(ps.names))
	}
	for j, w := range parts {
		ps.words[j] = append(ps.words[j], w...)
	}
	ps.runs++
	return nil
}

func (ps *positions) each(f func(name string, w []uint64)) {
	for j, n := range ps.names {
		f(n, ps.words[j])
	}
}

// Words decodes b as little-endian 64-bit words (a trailing partial word is
// dropped).
func Words(b []byte) []uint64 {
	w := make([]uint64, len(b)/8)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return w
}

// Thresholds. Chi2Crit is the 10^−6 critical value of chi-square with 15
// degrees of freedom (Wilson–Hilferty); BitZ the two-sided 10^−7 normal
// quantile.
const (
	Chi2Crit = 57.35
	BitZ     = 5.33
	// MinWords is the smallest sample Uniform and SameDistribution accept:
	// at least 16 expected counts per bucket.
	MinWords = 256
)

// Uniform asserts that w looks like independent uniform 64-bit words: each
// bit is set in about half the words (|z| ≤ BitZ) and the histogram of each
// of the sixteen 4-bit windows passes a chi-square test (≤ Chi2Crit).
func Uniform(t testing.TB, what string, w []uint64) {
	t.Helper()
	if len(w) < MinWords {
		t.Errorf("%s: only %d words, need %d for a uniformity test (pool more runs)", what, len(w), MinWords)
		return
	}
	n := float64(len(w))
	var ones [64]float64
	for _, v := range w {
		for b := range 64 {
			ones[b] += float64(v >> b & 1)
		}
	}
	for b, o := range ones {
		if z := (o - n/2) / math.Sqrt(n/4); math.Abs(z) > BitZ {
			t.Errorf("%s: bit %d set in %.0f of %.0f words (z = %.1f)", what, b, o, n, z)
			return
		}
	}
	for sh := uint(0); sh < 64; sh += 4 {
		if c := Chi2(w, sh); c > Chi2Crit {
			t.Errorf("%s: bits %d..%d: chi2 = %.1f > %.1f", what, sh, sh+3, c, Chi2Crit)
			return
		}
	}
}

// Chi2 is the chi-square statistic (15 degrees of freedom) of the
// histogram of the 4 bits of each word at offset sh against the uniform
// law.
func Chi2(w []uint64, sh uint) float64 {
	var h [16]float64
	for _, v := range w {
		h[v>>sh&15]++
	}
	e := float64(len(w)) / 16
	var c float64
	for _, o := range h {
		c += (o - e) * (o - e) / e
	}
	return c
}

// SameDistribution asserts that a and b look drawn from one law: the
// histograms of each 4-bit window pass a chi-square homogeneity test.
func SameDistribution(t testing.TB, what string, a, b []uint64) {
	t.Helper()
	if len(a) < MinWords || len(b) < MinWords {
		t.Errorf("%s: %d and %d words, need %d each for a homogeneity test", what, len(a), len(b), MinWords)
		return
	}
	for sh := uint(0); sh < 64; sh += 4 {
		if c := TwoSample(a, b, sh); c > Chi2Crit {
			t.Errorf("%s: bits %d..%d differ between the two secrets: chi2 = %.1f > %.1f", what, sh, sh+3, c, Chi2Crit)
			return
		}
	}
}

// TwoSample is the chi-square homogeneity statistic (15 degrees of
// freedom) of the 4-bit window at sh of a and b.
func TwoSample(a, b []uint64, sh uint) float64 {
	var ha, hb [16]float64
	for _, v := range a {
		ha[v>>sh&15]++
	}
	for _, v := range b {
		hb[v>>sh&15]++
	}
	na, nb := float64(len(a)), float64(len(b))
	var c float64
	for i := range ha {
		tot := ha[i] + hb[i]
		if tot == 0 {
			continue
		}
		ea, eb := tot*na/(na+nb), tot*nb/(na+nb)
		c += (ha[i]-ea)*(ha[i]-ea)/ea + (hb[i]-eb)*(hb[i]-eb)/eb
	}
	return c
}

// MinSecret and MinMaterialSecret are the smallest magnitudes NoSecrets
// searches for in messages and in material. A uniform stream holds a given
// 8-byte pattern with probability about 2^−64 per offset, so in messages
// (all meant uniform) only 0 and ±1, which are frequent as parts of wider
// words, are skipped; material also holds small numbers by design (counts,
// parameters, key control words), so only larger secrets are searched
// there.
const (
	MinSecret         = 2
	MinMaterialSecret = 1 << 16
)

// Multiples are the factors k of the secret words v that NoSecrets looks
// for as k·v mod 2^64.
var Multiples = []int64{1, -1, 2, -2, 3, -3, 4, -4}

// NoSecrets asserts that no word k·v (k in Multiples, v in secrets) occurs
// at any byte offset of the view's messages (|k·v| ≥ MinSecret) or
// material (|k·v| ≥ MinMaterialSecret). It fails if there was nothing to
// search for.
func NoSecrets(t testing.TB, what string, v View, secrets []Secret) {
	t.Helper()
	type pattern struct {
		secret int // index into secrets
		k      int64
		w      uint64
		big    bool // also searched in material
	}
	pats := map[uint64]pattern{}
	var filter [1 << 16]bool // on the low 16 bits: most windows stop here
	for si, s := range secrets {
		for _, w := range s.Words {
			for _, k := range Multiples {
				x := uint64(k) * w
				mag := int64(x)
				if mag < 0 {
					mag = -mag
				}
				if mag < MinSecret {
					continue
				}
				if _, dup := pats[x]; !dup {
					pats[x] = pattern{si, k, w, mag >= MinMaterialSecret}
					filter[x&0xffff] = true
				}
			}
		}
	}
	if len(pats) == 0 {
		if len(secrets) > 0 {
			t.Errorf("%s: no secret word to search for", what)
		}
		return
	}
	found := make([]int, len(secrets))
	scan := func(kind string, blobs [][]byte, material bool) {
		for i, b := range blobs {
			for j := 0; j+8 <= len(b); j++ {
				x := binary.LittleEndian.Uint64(b[j:])
				if !filter[x&0xffff] {
					continue
				}
				p, ok := pats[x]
				if !ok || (material && !p.big) {
					continue
				}
				found[p.secret]++
				if found[p.secret] <= 3 {
					t.Errorf("%s: %s %d (byte %d) holds %d × %s word %#x in the clear", what, kind, i, j, p.k, secrets[p.secret].Name, p.w)
				}
			}
		}
	}
	scan("message", v.Msgs, false)
	scan("material item", v.Material, true)
	for si, n := range found {
		if n > 3 {
			t.Errorf("%s: %d occurrences of %s words in all", what, n, secrets[si].Name)
		}
	}
}

// NoRepeats asserts that no 64-bit word occurs twice among all the
// messages of a view (at word positions): for independent uniform words a
// repeat has probability about n²/2^65, while a mask used twice on equal
// values (two layers, two operands, two positions) repeats the opened word.
func NoRepeats(t testing.TB, what string, v View) {
	t.Helper()
	seen := map[uint64][2]int{}
	for i, m := range v.Msgs {
		for j, w := range Words(m) {
			if at, ok := seen[w]; ok {
				t.Errorf("%s: word %#x of message %d (position %d) repeats message %d position %d", what, w, i, j, at[0], at[1])
				return
			}
			seen[w] = [2]int{i, j}
		}
	}
}

// Fresh asserts that two runs in one session (the same inputs, the second
// after the first) gave independent messages: corresponding messages have
// the same length and no equal word at the same position. Equal words of
// uniform independent messages have probability 2^−64 each; reused masks
// make them equal.
func Fresh(t testing.TB, what string, first, second [][]byte) {
	t.Helper()
	if len(first) != len(second) {
		t.Errorf("%s: %d messages, then %d", what, len(first), len(second))
		return
	}
	if len(first) == 0 {
		t.Errorf("%s: no messages to compare", what)
		return
	}
	for i := range first {
		a, b := Words(first[i]), Words(second[i])
		if len(a) != len(b) {
			t.Errorf("%s: message %d has %d words, then %d", what, i, len(a), len(b))
			continue
		}
		same := 0
		for j := range a {
			if a[j] == b[j] {
				same++
			}
		}
		if same > 0 {
			t.Errorf("%s: message %d: %d of %d words repeat in the second run (masks reused)", what, i, same, len(a))
		}
	}
}

// FreshWords is Fresh for vectors of words (e.g. material of two requests).
func FreshWords(t testing.TB, what string, a, b []uint64) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Errorf("%s: %d and %d words", what, len(a), len(b))
		return
	}
	same := 0
	for j := range a {
		if a[j] == b[j] {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%s: %d of %d words equal", what, same, len(a))
	}
}
