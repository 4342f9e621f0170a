// Package secnet opens the network connections of autorep's serving
// processes: TLS listeners and dialers (crypto/tls) producing framed
// transport.Conns, self-signed certificate generation for tests and demos,
// and the --insecure mode, plain TCP restricted to loopback addresses.
package secnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/autorep/autorep/transport"
)

// Config is one process's TLS settings.
type Config struct {
	// CertFile and KeyFile are the PEM certificate and key a listener
	// presents (needed to listen unless Insecure).
	CertFile, KeyFile string
	// CAFile is a PEM bundle of the roots that verify the peers this
	// process dials; empty means the system roots.
	CAFile string
	// ServerName overrides the name verified in a dialed peer's
	// certificate (default: the host of the address).
	ServerName string
	// ClientCAFile, on a listener, is a PEM bundle of the roots that verify
	// client certificates: a peer may present one (it is not required at
	// the handshake), and PeerVerified reports whether it did and it
	// verified, so that the service decides per role (the network dealer
	// requires it of the model server, --server-ca).
	ClientCAFile string
	// ClientCertFile and ClientKeyFile, on a dialer, are the PEM
	// certificate and key presented to the peer when it asks for one
	// (the model server authenticating to the dealer).
	ClientCertFile, ClientKeyFile string
	// Insecure disables TLS: plain TCP, allowed only on loopback
	// addresses (for experiments on one machine).
	Insecure bool
	// HandshakeTimeout bounds the TLS handshake (default 10 s).
	HandshakeTimeout time.Duration
	// Link, if set, shapes everything this process writes on its
	// connections like that network (Shape): emulation of a LAN or WAN
	// where `tc netem` is unavailable.
	Link *transport.Link
}

// DefaultHandshakeTimeout bounds a TLS handshake when Config sets none.
const DefaultHandshakeTimeout = 10 * time.Second

func (c Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// ServerTLS returns the tls.Config of a listener (nil when Insecure).
func (c Config) ServerTLS() (*tls.Config, error) {
	if c.Insecure {
		return nil, nil
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("secnet: listening needs --tls-cert and --tls-key (or --insecure on loopback)")
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("secnet: loading certificate %s / key %s: %w", c.CertFile, c.KeyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if c.ClientCAFile != "" {
		pool, err := loadPool(c.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// loadPool reads a PEM bundle of certificates.
func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("secnet: reading CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("secnet: %s holds no PEM certificate", file)
	}
	return pool, nil
}

// ClientTLS returns the tls.Config to dial addr (nil when Insecure).
func (c Config) ClientTLS(addr string) (*tls.Config, error) {
	if c.Insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: c.ServerName}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("secnet: address %q: %w", addr, err)
		}
		cfg.ServerName = host
	}
	if c.CAFile != "" {
		pool, err := loadPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.ClientCertFile != "" || c.ClientKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("secnet: loading client certificate %s / key %s: %w", c.ClientCertFile, c.ClientKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// PeerVerified reports whether the peer of conn, accepted by a Listener
// with ClientCAFile, presented a client certificate that verified against
// it (false on an insecure connection). name is the verified
// certificate's subject common name, for logs.
func PeerVerified(conn *transport.FramedConn) (name string, ok bool) {
	tc, isTLS := conn.NetConn().(*tls.Conn)
	if !isTLS {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", false
	}
	return st.VerifiedChains[0][0].Subject.CommonName, true
}

// VerifiesClients reports whether the listener asks for and verifies
// client certificates (ClientCAFile is set).
func (l *Listener) VerifiesClients() bool { return l.tls != nil && l.tls.ClientCAs != nil }

// CheckLoopback returns an error unless addr's host is a loopback address
// (an IP in 127.0.0.0/8 or ::1, or "localhost"): --insecure is for
// experiments on one machine only.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("secnet: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("secnet: --insecure (no TLS) is only allowed on loopback addresses, not %q", addr)
}

// Listener accepts framed connections, with TLS unless the config is
// insecure. The TLS handshake is done by Handshake, not by Accept, so a
// slow peer never holds up the accept loop.
type Listener struct {
	ln   net.Listener
	tls  *tls.Config
	cfg  Config
	opts transport.Options
}

// Listen listens on the TCP address addr; opts configure the accepted
// connections (frame limit, timeouts).
func Listen(addr string, cfg Config, opts transport.Options) (*Listener, error) {
	if cfg.Insecure {
		if err := CheckLoopback(addr); err != nil {
			return nil, err
		}
	}
	tc, err := cfg.ServerTLS()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("secnet: listen %s: %w", addr, err)
	}
	return &Listener{ln: ln, tls: tc, cfg: cfg, opts: opts}, nil
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening (pending Accepts return errors).
func (l *Listener) Close() error { return l.ln.Close() }

// Accept waits for the next TCP connection.
func (l *Listener) Accept() (net.Conn, error) { return l.ln.Accept() }

// Handshake runs the TLS handshake on an accepted connection (bounded by
// the handshake timeout and ctx) and returns it as a framed Conn; on error
// nc is closed.
func (l *Listener) Handshake(ctx context.Context, nc net.Conn) (*transport.FramedConn, error) {
	if l.cfg.Link != nil {
		nc = Shape(nc, *l.cfg.Link)
	}
	if l.tls == nil {
		return transport.NewConnOptions(nc, l.opts), nil
	}
	tc := tls.Server(nc, l.tls)
	hctx, cancel := context.WithTimeout(ctx, l.cfg.handshakeTimeout())
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("secnet: TLS handshake with %v: %w", nc.RemoteAddr(), err)
	}
	return transport.NewConnOptions(tc, l.opts), nil
}

// Dial connects to addr (TLS unless cfg is insecure) and returns a framed
// Conn with opts.
func Dial(ctx context.Context, addr string, cfg Config, opts transport.Options) (*transport.FramedConn, error) {
	if cfg.Insecure {
		if err := CheckLoopback(addr); err != nil {
			return nil, err
		}
	}
	tc, err := cfg.ClientTLS(addr)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.handshakeTimeout())
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(hctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("secnet: dial %s: %w", addr, err)
	}
	if cfg.Link != nil {
		nc = Shape(nc, *cfg.Link)
	}
	if tc == nil {
		return transport.NewConnOptions(nc, opts), nil
	}
	c := tls.Client(nc, tc)
	if err := c.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("secnet: TLS handshake with %s: %w", addr, err)
	}
	return transport.NewConnOptions(c, opts), nil
}
