package serve

import (
	"context"
	"time"

	"github.com/autorep/autorep/mpc"
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

// suiteServer is a server's side of its protocol suite, chosen once in
// Serve: what a client session needs besides the connection.
type suiteServer interface {
	// start runs the suite's background work (the dealer suite's pool)
	// until ctx ends; the returned stop waits for it and releases what it
	// holds.
	start(ctx context.Context) (stop func())
	// open prepares one client session.
	open(ctx context.Context) (*suiteSession, error)
	// pooled is the number of sessions prepared ahead of clients.
	pooled() int
	// held is the dealer material fetched and not yet used by the pooled
	// and running sessions (encoded bytes).
	held() int64
}

// suiteSession is one client session's suite state.
type suiteSession struct {
	sid       dealer.SessionID
	advertise string       // dealer address sent to the client ("" without a dealer)
	ticket    []byte       // the client's dealer join ticket, if any
	tag       []byte       // the dealer session tag the server's join answered, if any
	prov      mpc.Provider // the server's correlated randomness (nil without a dealer)
	created   time.Time
	ping      func() error // checks a pooled session still answers
	activity  func() int64 // grows while the session's dealer material arrives
	close     func()
}

// twoParty is the twoparty suite: nothing is shared with a third party
// and nothing can be prepared before the client arrives (base OTs and HE
// keys are per client, in pi's setup).
type twoParty struct{}

func (twoParty) start(context.Context) func() { return func() {} }
func (twoParty) pooled() int                  { return 0 }
func (twoParty) held() int64                  { return 0 }

func (twoParty) open(context.Context) (*suiteSession, error) {
	sid, err := dealer.NewSessionID() // a random id for logs
	if err != nil {
		return nil, err
	}
	return &suiteSession{sid: sid, activity: func() int64 { return 0 }, close: func() {}}, nil
}

// piServer is pi's server of one session in suite.
func piServer(plan *pi.Plan, suite string, ss *suiteSession, maxImages int, on func(pi.Stats)) *pi.Server {
	return &pi.Server{Plan: plan, Suite: suite, Provider: ss.prov, MaxImages: maxImages, OnInference: on}
}
