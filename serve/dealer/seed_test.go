package dealer

import (
	"bytes"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// TestSeededGenerator: a fixed seed, from hex or a secret file, gives the
// same material as dealer.NewGenerator of that seed (and a warning); no seed a
// random dealer; a seed off loopback, both seed flags, a bad length or an
// open file are refused.
func TestSeededGenerator(t *testing.T) {
	seed := ring.Seed{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	hexSeed := "0102030405060708090a0b0c0d0e0f10"
	dir := t.TempDir()
	file := filepath.Join(dir, "seed")
	if err := os.WriteFile(file, []byte(hexSeed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	req := corr.Request{Kind: mpc.KindTriple, Label: "x", N: 5}
	material := func(d *mpcdealer.Generator) []byte {
		m0, m1, err := d.Generate(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, m := range []*corr.Material{m0, m1} {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	want := material(mpcdealer.NewGenerator(seed))
	for _, c := range []struct{ hex, file, warn string }{{hexSeed, "", "--seed is deprecated"}, {"", file, "fixed seed"}} {
		var w bytes.Buffer
		d, err := SeededGenerator("127.0.0.1:0", c.hex, c.file, &w)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(material(d), want) {
			t.Errorf("seed %q / file %q: material differs from mpcdealer.NewGenerator's", c.hex, c.file)
		}
		if !strings.Contains(w.String(), c.warn) || !strings.Contains(w.String(), "for tests only") {
			t.Errorf("warnings %q", w.String())
		}
	}
	r1, err := SeededGenerator("0.0.0.0:7001", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := SeededGenerator("0.0.0.0:7001", "", "", nil)
	if bytes.Equal(material(r1), material(r2)) || bytes.Equal(material(r1), want) {
		t.Error("random dealers gave equal material")
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte(hexSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ listen, hex, file, want string }{
		{"0.0.0.0:7001", hexSeed, "", "--seed is for tests only and needs a loopback"},
		{"10.0.0.1:7001", "", file, "--seed-file is for tests only"},
		{"127.0.0.1:0", hexSeed, file, "not both"},
		{"127.0.0.1:0", "0102", "", "--seed: want 32 hex digits"},
		{"127.0.0.1:0", "zz" + hexSeed[2:], "", "--seed: want 32 hex digits"},
		{"127.0.0.1:0", "", open, "--seed-file: "},
		{"127.0.0.1:0", "", filepath.Join(dir, "absent"), "--seed-file: "},
	} {
		if _, err := SeededGenerator(c.listen, c.hex, c.file, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestReadTicketKey: no path gives no key; a short key, an open file and a
// missing one are refused naming the flag.
func TestReadTicketKey(t *testing.T) {
	if k, err := ReadTicketKey("--ticket-key", "", "--gen-ticket-key"); k != nil || err != nil {
		t.Errorf("no path: %x, %v", k, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "key")
	if err := WriteSecretFile(good, MinTicketKey); err != nil {
		t.Fatal(err)
	}
	if k, err := ReadTicketKey("--ticket-key", good, "--gen-ticket-key"); err != nil || len(k) != MinTicketKey {
		t.Errorf("good key: %d bytes, %v", len(k), err)
	}
	short := filepath.Join(dir, "short")
	if err := WriteSecretFile(short, MinTicketKey-1); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte(strings.Repeat("ab", MinTicketKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{short: "want at least 32 (--gen-ticket-key writes one)", open: "--ticket-key: ", filepath.Join(dir, "absent"): "--ticket-key: "} {
		if _, err := ReadTicketKey("--ticket-key", p, "--gen-ticket-key"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", p, err, want)
		}
	}
}
