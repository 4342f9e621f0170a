package serve

import (
	"context"
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/dealer"
)

// Suite names (pi's protocol suites), short for the package's code.
const (
	suiteDealer   = pi.SuiteDealer
	suiteTwoParty = pi.SuiteTwoParty
)

// checkSuite returns the suite a name selects ("" is the dealer suite) or
// an error naming the known ones.
func checkSuite(name string) (string, error) {
	if err := pi.ValidSuite(name); err != nil {
		return "", err
	}
	if name == "" {
		return suiteDealer, nil
	}
	return name, nil
}

// Correlations is a server's source of correlated randomness for its
// protocol suite, the plug-in Server.Correlations: the suite's name (the
// handshake carries it; the plan must be compiled for it), background
// work such as sessions prepared ahead of clients, and what each client
// session gets besides its connection. DealerCorrelations and
// TwoPartyCorrelations are the two suites'; another suite implements it
// outside this package. Serve calls Init once, then Start, then Open per
// client; Pooled and Held may be called at any time after Init, from any
// goroutine.
type Correlations interface {
	// Suite is the protocol suite's name (pi.SuiteDealer, ...).
	Suite() string
	// Init binds the source to the server's plan and limits.
	Init(env CorrelationsEnv) error
	// Start runs the background work until ctx ends; the returned stop
	// waits for it and releases what it holds.
	Start(ctx context.Context) (stop func())
	// Open prepares one client session.
	Open(ctx context.Context) (*CorrelationSession, error)
	// Pooled is the number of sessions prepared ahead of clients.
	Pooled() int
	// Held is the correlated material fetched and not yet used by the
	// pooled and running sessions (encoded bytes).
	Held() int64
}

// CorrelationsEnv is what a Correlations source learns of its server
// (Init).
type CorrelationsEnv struct {
	// Plan is the compiled model served.
	Plan *pi.Plan
	// Images is the number of single-image inferences a session may run
	// when every request is of one image (0: larger requests or no
	// limit), what a dealer's plan registration may grant.
	Images int
	// Logf receives the source's free-form events (never nil).
	Logf func(format string, args ...any)
}

// CorrelationSession is one client session's correlations.
type CorrelationSession struct {
	// ID names the session (the dealer session, or a random id for logs).
	ID dealer.SessionID
	// Advertise is the dealer address sent to the client ("" without a
	// dealer).
	Advertise string
	// Ticket is the client's dealer join ticket, if any.
	Ticket []byte
	// Tag is the dealer session tag of the server's join, if any: the
	// client must send the same one (its join's) before the session runs.
	Tag []byte
	// Provider is the server's correlated randomness (pi.Server.Provider;
	// nil for a suite without a dealer).
	Provider corr.Provider
	// Activity grows while the session's material arrives (the idle
	// watch counts it as activity); nil: never.
	Activity func() int64
	// Close releases the session (nil: nothing to release).
	Close func()
}

func (cs *CorrelationSession) activity() int64 {
	if cs.Activity == nil {
		return 0
	}
	return cs.Activity()
}

func (cs *CorrelationSession) close() {
	if cs.Close != nil {
		cs.Close()
	}
}

// correlations returns the server's source: Correlations, whose suite
// must agree with a Suite set too, or the one Suite and Dealer name
// (the default plug-ins).
func (s *Server) correlations() (Correlations, error) {
	if c := s.Correlations; c != nil {
		switch {
		case s.Suite != "" && s.Suite != c.Suite():
			return nil, fmt.Errorf("serve: Suite is %s, the correlations plug-in's suite %s", s.Suite, c.Suite())
		case s.Dealer != nil:
			return nil, fmt.Errorf("serve: a correlations plug-in (suite %s) and a Dealer are both set: the plug-in carries its own configuration", c.Suite())
		}
		return c, nil
	}
	suite, err := checkSuite(s.Suite)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if suite == suiteDealer {
		return DealerCorrelations(s.Dealer), nil
	}
	if s.Dealer != nil {
		return nil, fmt.Errorf("serve: suite %s uses no dealer, but a dealer is configured", suite)
	}
	return TwoPartyCorrelations(), nil
}

// twoParty is the twoparty suite's Correlations: nothing is shared with a
// third party and nothing can be prepared before the client arrives (base
// OTs and HE keys are per client, in pi's setup).
type twoParty struct{}

// TwoPartyCorrelations returns the twoparty suite's Correlations.
func TwoPartyCorrelations() Correlations { return twoParty{} }

func (twoParty) Suite() string                { return suiteTwoParty }
func (twoParty) Init(CorrelationsEnv) error   { return nil }
func (twoParty) Start(context.Context) func() { return func() {} }
func (twoParty) Pooled() int                  { return 0 }
func (twoParty) Held() int64                  { return 0 }

func (twoParty) Open(context.Context) (*CorrelationSession, error) {
	sid, err := dealer.NewSessionID() // a random id for logs
	if err != nil {
		return nil, err
	}
	return &CorrelationSession{ID: sid}, nil
}

// piServer is pi's server of one session in suite.
func piServer(plan *pi.Plan, suite string, cs *CorrelationSession, maxImages int, on func(pi.Stats)) *pi.Server {
	return &pi.Server{Plan: plan, Suite: suite, Provider: cs.Provider, MaxImages: maxImages, OnInference: on}
}
