package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/dealer"
)

// DealerConfig is how a dealer-suite server reaches its network dealer
// (Server.Dealer).
type DealerConfig struct {
	// Addr is the dealer's address and Dial opens a connection to it (one
	// per session), with the TLS settings that verify the dealer.
	Addr string
	Dial DialFunc
	// Advertise is the dealer address sent to clients (default Addr). A
	// client checks it against the dealer it pinned, if any.
	Advertise string
	// Pool is the number of sessions kept ready: dealer session joined and
	// the material of the setup and of one single-image inference fetched
	// before a client arrives (0: fetch on demand). Pooled material is for
	// single-image inference requests, which is what Session.Infer sends;
	// a pi client batching several images per request needs Pool 0 (the
	// dealer would otherwise see the parties ask for different material).
	// Later inferences of a session are fetched one single-image request
	// list at a time (dealer.Remote.Refill).
	Pool int
	// PoolTTL discards pooled sessions older than this (default 5 min).
	PoolTTL time.Duration
	// KeepAlive is the idle time after which a session's dealer
	// connection is pinged (default 30 s; must be below the dealer's read
	// timeout; negative: never).
	KeepAlive time.Duration
	// TicketKey, if set, is the join-ticket key shared with the dealer
	// (dealer --ticket-key): the server joins each session with its
	// ticket and hands the client the client's, so only the parties of a
	// session this server opened can join it.
	TicketKey []byte
}

// dealerSuite is the dealer suite's Correlations: a pool of dealer
// sessions prepared ahead of clients.
type dealerSuite struct {
	given *DealerConfig // DealerCorrelations' argument, checked by Init
	cfg   DealerConfig
	hash  [32]byte
	setup []corr.Request
	infer []corr.Request
	pool  chan *pooledSession
	// images is the number of single-image inferences each session's
	// plan registration grants (0: no registration).
	images int
	logf   func(format string, args ...any)
	// live are the providers of the pooled and running sessions.
	liveMu sync.Mutex
	live   map[*dealer.Remote]bool
}

// pooledSession is a dealer session prepared ahead of its client.
type pooledSession struct {
	*CorrelationSession
	created time.Time
	ping    func() error // checks the session still answers
}

// DealerCorrelations returns the dealer suite's Correlations: each
// session's material from the network dealer cfg describes (checked by
// Init: nil, or without Addr or Dial, is an error there).
func DealerCorrelations(cfg *DealerConfig) Correlations { return &dealerSuite{given: cfg} }

func (d *dealerSuite) Suite() string { return suiteDealer }

// Init checks the dealer configuration and lists the plan's requests.
func (d *dealerSuite) Init(env CorrelationsEnv) error {
	cfg := d.given
	if cfg == nil || cfg.Dial == nil || cfg.Addr == "" {
		return errors.New("serve: the dealer suite needs a dealer (Server.Dealer with Addr and Dial)")
	}
	if cfg.TicketKey != nil && len(cfg.TicketKey) < dealer.MinTicketKey {
		return fmt.Errorf("serve: dealer ticket key of %d bytes, want at least %d", len(cfg.TicketKey), dealer.MinTicketKey)
	}
	d.cfg, d.hash, d.images, d.logf = *cfg, env.Plan.Public.Hash(), env.Images, env.Logf
	if d.cfg.Advertise == "" {
		d.cfg.Advertise = d.cfg.Addr
	}
	if len(d.cfg.Advertise) > maxAddr {
		return fmt.Errorf("serve: dealer address of %d bytes", len(d.cfg.Advertise))
	}
	d.setup = pi.SetupRequests(env.Plan.Public, mpc.Server)
	d.infer = pi.InferenceRequests(env.Plan.Public, 1)
	d.pool = make(chan *pooledSession, max(d.cfg.Pool, 0))
	return nil
}

// newSession joins a fresh dealer session; with prefetch, it also fetches
// the material of the setup and of one single-image inference.
func (d *dealerSuite) newSession(ctx context.Context, prefetch bool) (*pooledSession, error) {
	sid, err := dealer.NewSessionID()
	if err != nil {
		return nil, err
	}
	conn, err := d.cfg.Dial(ctx, d.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dealer %s: %w", d.cfg.Addr, err)
	}
	var mine dealer.Ticket
	var theirs []byte
	if d.cfg.TicketKey != nil {
		c, err := dealer.IssueTicket(d.cfg.TicketKey, mpc.Client, sid, d.hash)
		if err == nil {
			mine, err = dealer.IssueTicket(d.cfg.TicketKey, mpc.Server, sid, d.hash)
		}
		if err != nil {
			conn.Close()
			return nil, err
		}
		theirs = c[:]
	}
	prov, err := dealer.JoinTicket(ctx, conn, mpc.Server, sid, d.hash, mine)
	if err != nil {
		conn.Close()
		return nil, err
	}
	// A shutdown (or a client gone) while the material is fetched closes
	// the dealer connection: the prefetch returns at once instead of the
	// drain waiting for the dealer, which then stops generating for this
	// party (dealer.Server: a generation ends when its party is gone).
	stop := context.AfterFunc(ctx, func() { prov.Close() })
	defer stop()
	// The dealer then serves both parties only this plan's requests, at
	// most as often as the session's inferences need.
	if d.images > 0 {
		if err := prov.RegisterPlan(d.setup, d.infer, d.images); err != nil {
			prov.Close()
			return nil, err
		}
	}
	prov.Refill = func() []corr.Request { return d.infer }
	prov.KeepAlive(keepAlive(d.cfg.KeepAlive))
	if prefetch {
		if err := prov.Prefetch(append(append([]corr.Request(nil), d.setup...), d.infer...)); err != nil {
			prov.Close()
			return nil, err
		}
	}
	tag := prov.Tag()
	d.liveMu.Lock()
	if d.live == nil {
		d.live = map[*dealer.Remote]bool{}
	}
	d.live[prov] = true
	d.liveMu.Unlock()
	cs := &CorrelationSession{ID: sid, Advertise: d.cfg.Advertise, Ticket: theirs, Tag: tag[:], Provider: prov,
		Activity: func() int64 { return prov.Offline().Bytes }, Close: func() {
			d.liveMu.Lock()
			delete(d.live, prov)
			d.liveMu.Unlock()
			prov.Close()
		}}
	return &pooledSession{CorrelationSession: cs, created: time.Now(), ping: prov.Ping}, nil
}

func (d *dealerSuite) Held() int64 {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	var n int64
	for p := range d.live {
		n += p.Offline().Bytes - p.Used()
	}
	return n
}

// DefaultKeepAlive is the default idle time before a dealer ping.
const DefaultKeepAlive = 30 * time.Second

func keepAlive(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultKeepAlive
	}
	return d
}

func (d *dealerSuite) Pooled() int { return len(d.pool) }

// Start keeps the pool full until ctx ends, retrying with back-off while
// the dealer is unreachable.
func (d *dealerSuite) Start(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if d.cfg.Pool > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); d.fill(ctx) }()
	}
	return func() {
		cancel()
		wg.Wait()
		for len(d.pool) > 0 {
			(<-d.pool).close()
		}
	}
}

func (d *dealerSuite) fill(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		p, err := d.newSession(ctx, true)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.logf("serve: pool: %v (retrying in %v)", err, backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		select {
		case d.pool <- p:
		case <-ctx.Done():
			p.close()
			return
		}
	}
}

// Open returns a pooled session that still answers, or a new one.
func (d *dealerSuite) Open(ctx context.Context) (*CorrelationSession, error) {
	ttl := d.cfg.PoolTTL
	if ttl <= 0 {
		ttl = DefaultPoolTTL
	}
	for {
		select {
		case p := <-d.pool:
			if time.Since(p.created) > ttl {
				p.close()
				continue
			}
			if err := p.ping(); err != nil {
				d.logf("serve: pooled session %s is dead: %v", p.ID, err)
				p.close()
				continue
			}
			return p.CorrelationSession, nil
		default:
			p, err := d.newSession(ctx, false)
			if err != nil {
				return nil, err
			}
			return p.CorrelationSession, nil
		}
	}
}
