package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientTokenFiles: a written token reads back, its line is the token
// file's (ParseClients admits exactly it), a bad name writes nothing, and
// an open, oversized or missing token file is refused.
func TestClientTokenFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alice.token")
	line, err := WriteClientToken(path, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ReadClientToken(path)
	if err != nil || len(tok) != 32 || line != TokenLine("alice", tok) {
		t.Fatalf("token %x (%v), line %q", tok, err, line)
	}
	if _, err := ParseClients(strings.NewReader(line+"\n"), Quota{}); err != nil {
		t.Errorf("line %q: %v", line, err)
	}
	bad := filepath.Join(dir, "bad.token")
	if _, err := WriteClientToken(bad, "a b"); err == nil || !strings.Contains(err.Error(), "--client-name") {
		t.Errorf("name with a space: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a refused name wrote %s (%v)", bad, err)
	}
	long := filepath.Join(dir, "long.token")
	if err := os.WriteFile(long, []byte(strings.Repeat("ab", MaxToken+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.token")
	if err := os.WriteFile(open, []byte("abcd"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{long, open, filepath.Join(dir, "absent")} {
		if _, err := ReadClientToken(p); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
}
