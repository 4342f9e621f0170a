package dealer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ReadSecretFile reads a secret (a ticket key, a dealer seed) from a file
// holding it in hex (surrounding white space ignored): files, not
// command-line flags, because a process's arguments are visible to every
// user of the machine (ps, /proc/PID/cmdline) and end up in shell
// histories and logs. The file must not be readable or writable by the
// group or others (mode 0600 or stricter), as ssh requires of its keys.
func ReadSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("secret file %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s: mode %04o lets others read or change it; chmod 600 it", path, perm)
	}
	if st.Size() > 1<<12 {
		return nil, fmt.Errorf("secret file %s: %d bytes, too large for a key", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) == 0 {
		return nil, fmt.Errorf("secret file %s: want hex digits", path)
	}
	return k, nil
}

// WriteSecretFile writes n fresh bytes from crypto/rand in hex to a new
// file at path with mode 0600 (an existing file is never overwritten).
func WriteSecretFile(path string, n int) error {
	if n <= 0 {
		return errors.New("secret file: length must be positive")
	}
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("secret file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("secret file %s exists; not overwriting a key", path)
		}
		return fmt.Errorf("secret file: %w", err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(k)); err != nil {
		f.Close()
		return fmt.Errorf("secret file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("secret file: %w", err)
	}
	return nil
}
