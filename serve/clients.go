package serve

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client credentials (issue 19, finding 4): API tokens rather than mutual
// TLS client certificates. A token file holds only SHA-256 hashes, so a
// copy of it lets no one in; a client is revoked by deleting its line (this
// project's certificates cannot be revoked: no CRL or OCSP); and no
// per-client PKI is needed, while the token travels only inside the
// server's TLS 1.3 connection. Quotas are per client name.

// MaxToken bounds a client token on the wire (bytes).
const MaxToken = 64

// Quota is what one client may use.
type Quota struct {
	// Sessions bounds the client's sessions at once (≤ 0: no bound).
	Sessions int
	// PerDay bounds the images the client has classified per UTC day, its
	// query budget (≤ 0: no bound). A session whose client reaches it is
	// closed after that inference; a request of several images
	// (Server.MaxImages above 1) may overshoot by up to MaxImages−1.
	PerDay int64
}

// Clients are the credentialed clients of a server (Server.Clients): each
// hello must carry a token whose SHA-256 is listed, and each client's
// Quota holds. Counts are in memory: a restart resets the day's budget.
type Clients struct {
	mu     sync.Mutex
	byHash map[[32]byte]*clientState
	now    func() time.Time // for tests
}

type clientState struct {
	name     string
	quota    Quota
	sessions int    // open now
	day      string // UTC date of used
	used     int64  // images on day
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// ParseClients reads a token file: one client a line, "NAME:SHA256HEX"
// (the hex SHA-256 of the client's token bytes) optionally followed by
// "sessions=N" and "per-day=N" overriding def for that client; blank lines
// and lines starting with # are ignored. Names and hashes must be unique.
func ParseClients(r io.Reader, def Quota) (*Clients, error) {
	c := &Clients{byHash: map[[32]byte]*clientState{}}
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		name, hx, ok := strings.Cut(fields[0], ":")
		if !ok || !clientName.MatchString(name) {
			return nil, fmt.Errorf("token file line %d: want NAME:SHA256HEX (name of 1-64 letters, digits, ._@-)", n)
		}
		var h [32]byte
		if b, err := hex.DecodeString(hx); err != nil || len(b) != len(h) {
			return nil, fmt.Errorf("token file line %d (%s): the token hash must be 64 hex digits (SHA-256)", n, name)
		} else {
			copy(h[:], b)
		}
		if names[name] || c.byHash[h] != nil {
			return nil, fmt.Errorf("token file line %d: client %s or its hash is listed twice", n, name)
		}
		q := def
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			x, err := strconv.ParseInt(v, 10, 64)
			switch {
			case err != nil:
				return nil, fmt.Errorf("token file line %d (%s): %q: want sessions=N or per-day=N", n, name, f)
			case k == "sessions":
				q.Sessions = int(min(x, 1<<30))
			case k == "per-day":
				q.PerDay = x
			default:
				return nil, fmt.Errorf("token file line %d (%s): unknown quota %q (sessions, per-day)", n, name, k)
			}
		}
		names[name] = true
		c.byHash[h] = &clientState{name: name, quota: q}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if len(c.byHash) == 0 {
		return nil, errors.New("token file lists no client")
	}
	return c, nil
}

// LoadClients reads a token file (ParseClients).
func LoadClients(path string, def Quota) (*Clients, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseClients(f, def)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// TokenLine is the token-file line of a client's token.
func TokenLine(name string, token []byte) string {
	h := sha256.Sum256(token)
	return name + ":" + hex.EncodeToString(h[:])
}

// errAuth and errQuota are the refusals of admit.
var (
	errAuth  = errors.New("no valid client token")
	errQuota = errors.New("client quota spent")
)

func (c *Clients) today() string {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	return now().UTC().Format(time.DateOnly)
}

// admit checks a hello's token and takes one of the client's sessions;
// release gives it back. spend records images and reports whether the
// day's budget is now spent.
func (c *Clients) admit(token []byte) (name string, spend func(images int) (spent bool), release func(), err error) {
	st := c.byHash[sha256.Sum256(token)] // immutable after ParseClients
	if len(token) == 0 || st == nil {
		return "", nil, nil, errAuth
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.today(); st.day != d {
		st.day, st.used = d, 0
	}
	switch {
	case st.quota.Sessions > 0 && st.sessions >= st.quota.Sessions:
		return st.name, nil, nil, fmt.Errorf("%w: client %s has its %d sessions open", errQuota, st.name, st.quota.Sessions)
	case st.quota.PerDay > 0 && st.used >= st.quota.PerDay:
		return st.name, nil, nil, fmt.Errorf("%w: client %s used its %d images of the day (UTC)", errQuota, st.name, st.quota.PerDay)
	}
	st.sessions++
	var once sync.Once
	release = func() {
		once.Do(func() {
			c.mu.Lock()
			st.sessions--
			c.mu.Unlock()
		})
	}
	spend = func(images int) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if d := c.today(); st.day != d {
			st.day, st.used = d, 0
		}
		st.used += int64(images)
		return st.quota.PerDay > 0 && st.used >= st.quota.PerDay
	}
	return st.name, spend, release, nil
}
