package pi

import (
	"fmt"
	"sync"

	"github.com/autorep/autorep/hesimd"
	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// The message schedule of an activation step with ReLU and polynomial
// positions in the PolyHE form (issue 15, session 14): the polynomial
// positions' messages ride in the rounds of the ReLU positions' ReLUTrunc
// instead of adding their own. ReLUTrunc is a run of simultaneous
// exchanges (both parties send, then both receive: about 7 at ℓ = 32);
// its k-th message from one party is the k-th the other receives in it,
// so a message sent just before a party's k-th send there is received
// just before the other's k-th receive (hookConn), in the same round.
// The conversions are otgates' split gates (otgates.Conv: the client's
// derandomized choices first, the server's correlations second), the
// masked input d the hesimd Online's; for a degree-1 step:
//
//	client: d_lin, ToPrime choices | ReLUTrunc: before receive 1 ToPrime's correlations; before send 2 d and FromPrime's choices; before receive 3 FromPrime's correlations
//	server: ToPrime choices in, correlations out, then ReLUTrunc: before receive 2 d and FromPrime's choices; before send 3 FromPrime's correlations
//
// so the step costs ReLUTrunc's rounds alone (the client's choices ride
// in the linear step's burst, the server's first correlations in front of
// ReLUTrunc's first message). A degree-2 step's d is answered (e or an
// HE answer), which the client's hesimd Online takes at once: it runs
// before ReLUTrunc (one round), its FromPrime in ReLUTrunc's rounds 1–2.
// A folded step's truncation is a Conv with the same slots as ToPrime.
// A step without ReLU positions runs its hooks in order at once (flush).

// hookConn is the otgates session's connection: the step's connection
// with hooks that run before a gate's k-th send or k-th receive (counted
// from arm). A hook sends and receives through the same connection; its
// own messages are not counted and fire no hooks. Sends are kept in
// order: a send waits for the previous asynchronous one (a hook's send
// may come between a gate's asynchronous send and the next).
type hookConn struct {
	transport.Conn
	mu           sync.Mutex
	depth        int // > 0 while a hook runs
	sends, recvs int
	onSend       map[int]func() error
	onRecv       map[int]func() error
	flight       chan struct{} // closed when the last asynchronous send is written
}

// arm sets the hooks for the next gate, by 1-based send and receive
// index.
func (c *hookConn) arm(onSend, onRecv map[int]func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sends, c.recvs = 0, 0
	c.onSend, c.onRecv = onSend, onRecv
}

// flush runs the hooks the gate did not reach, in index order, each
// index's send hook before its receive hook: the peer does the same, so
// their messages still meet.
func (c *hookConn) flush() error {
	c.mu.Lock()
	last := 0
	for k := range c.onSend {
		last = max(last, k)
	}
	for k := range c.onRecv {
		last = max(last, k)
	}
	c.mu.Unlock()
	for k := 1; k <= last; k++ {
		if err := c.fire(&c.onSend, k); err != nil {
			return err
		}
		if err := c.fire(&c.onRecv, k); err != nil {
			return err
		}
	}
	c.arm(nil, nil)
	return nil
}

// fire runs and removes hook k of hooks, if armed.
func (c *hookConn) fire(hooks *map[int]func() error, k int) error {
	c.mu.Lock()
	f := (*hooks)[k]
	delete(*hooks, k)
	if f != nil {
		c.depth++
	}
	c.mu.Unlock()
	if f == nil {
		return nil
	}
	err := f()
	c.mu.Lock()
	c.depth--
	c.mu.Unlock()
	return err
}

// before counts a gate's send (or receive) and runs its hook.
func (c *hookConn) before(send bool) error {
	c.mu.Lock()
	if c.depth > 0 || (c.onSend == nil && c.onRecv == nil) {
		c.mu.Unlock()
		return nil
	}
	k, hooks := 0, &c.onRecv
	if send {
		c.sends++
		k, hooks = c.sends, &c.onSend
	} else {
		c.recvs++
		k = c.recvs
	}
	c.mu.Unlock()
	return c.fire(hooks, k)
}

// wait waits until the last asynchronous send is written.
func (c *hookConn) wait() {
	c.mu.Lock()
	f := c.flight
	c.mu.Unlock()
	if f != nil {
		<-f
	}
}

// Send implements transport.Conn.
func (c *hookConn) Send(b []byte) error {
	if err := c.before(true); err != nil {
		return err
	}
	c.wait()
	return c.Conn.Send(b)
}

// SendAsync implements transport.AsyncSender: the hook runs first, in
// the caller, on a copy of b (a hook's sends may reuse the caller's
// buffer).
func (c *hookConn) SendAsync(b []byte) <-chan error {
	out := make(chan error, 1)
	c.mu.Lock()
	hooked := c.depth == 0 && (c.onSend != nil || c.onRecv != nil)
	c.mu.Unlock()
	if hooked {
		b = append([]byte(nil), b...)
		if err := c.before(true); err != nil {
			out <- err
			return out
		}
	}
	c.wait()
	a, ok := c.Conn.(transport.AsyncSender)
	if !ok {
		out <- c.Conn.Send(b)
		return out
	}
	done := make(chan struct{})
	c.mu.Lock()
	c.flight = done
	c.mu.Unlock()
	ch := a.SendAsync(b)
	go func() {
		err := <-ch
		close(done)
		out <- err
	}()
	return out
}

// SendParts implements transport.PartsSender.
func (c *hookConn) SendParts(parts ...[]byte) error {
	if err := c.before(true); err != nil {
		return err
	}
	c.wait()
	return transport.SendParts(c.Conn, parts...)
}

// Recv implements transport.Conn.
func (c *hookConn) Recv() ([]byte, error) {
	if err := c.before(false); err != nil {
		return nil, err
	}
	return c.Conn.Recv()
}

// RecvMax implements transport.LimitedReceiver.
func (c *hookConn) RecvMax(max int) ([]byte, error) {
	if err := c.before(false); err != nil {
		return nil, err
	}
	return transport.RecvMax(c.Conn, max)
}

// polyHEStep is a PolyHE step's polynomial positions in flight: start
// ran what goes before the step's ReLU gate and armed the hooks for the
// rest; finish returns the output shares after the gate and flush.
type polyHEStep struct {
	b      *twoPartyBackend
	fp     *otgates.Conv
	out    []uint64
	err    error
	hookOK bool // every hook ran
}

// polyHEStart starts the polynomial positions idx of PolyHE step i (z
// their inputs at 2f fractional bits, shares mod 2^ℓ): t = ⌊z/2^f⌋ − e
// as shares mod P (otgates ToPrimeTrunc), v = C2·t² + C1·t + C0 mod P by
// the step's precomputed hesimd mask (degree 1: the answer came offline,
// the client sends t masked; degree 2: the server answers), then
// ⌊v/2^2f⌋ ± 1 back in Z_2^ℓ (FromPrimeTrunc), scheduled as above. The
// hesimd mask is taken first, so a step without one fails before any
// traffic.
func (b *twoPartyBackend) polyHEStart(i int, st *Step, z []uint64, idx []int) (*polyHEStep, error) {
	var cm *hesimd.ClientMask
	var sm *hesimd.ServerMask
	var err error
	if b.party == tpServer {
		sm, err = takePre[*hesimd.ServerMask](b, i, st)
	} else {
		cm, err = takePre[*hesimd.ClientMask](b, i, st)
	}
	if err != nil {
		return nil, err
	}
	f, P, n := int(b.pub.Frac), b.hp.P(), len(z)
	tp, err := b.gates.ToPrimeTruncSplit(n, b.ell, f, P)
	if err != nil {
		return nil, err
	}
	ps := &polyHEStep{b: b}
	if ps.fp, err = b.gates.FromPrimeTruncSplit(n, P, b.ell, 2*f); err != nil {
		return nil, err
	}
	online := func(t []uint64) ([]uint64, error) {
		if b.party == tpServer {
			ca, cb, cc := b.heCoefs(i, st, idx)
			if st.PolyDeg == 1 {
				ca = nil
			}
			return b.qs.Online(sm, ca, cb, cc, t)
		}
		return b.qc.Online(cm, t)
	}
	zs, zc := z, []uint64(nil) // the server's input goes to Second, the client's to First
	if b.party == tpClient {
		zs, zc = nil, z
	}
	if err := tp.First(zc); err != nil {
		return nil, err
	}
	var t, v []uint64
	// fromPrime is FromPrime's choices (client) or their receipt (server).
	fromFirst := func() error {
		if b.party == tpClient {
			return ps.fp.First(v)
		}
		return ps.fp.First(nil)
	}
	fromSecond := func() error {
		if b.party == tpServer {
			return ps.fp.Second(v)
		}
		return ps.fp.Second(nil)
	}
	toSecond := func() (err error) {
		if err = tp.Second(zs); err == nil {
			t, err = tp.Result()
		}
		return err
	}
	if st.PolyDeg != 1 {
		// Degree 2: ToPrime and the answered d before the gate, FromPrime
		// in its rounds 1 and 2.
		if err := toSecond(); err != nil {
			return nil, err
		}
		if v, err = online(t); err != nil {
			return nil, fmt.Errorf("polynomial by HE: %w", err)
		}
		if b.party == tpClient {
			err = b.armPoly(map[int]func() error{1: fromFirst}, map[int]func() error{2: ps.last(fromSecond)})
		} else {
			err = b.armPoly(map[int]func() error{2: ps.last(fromSecond)}, map[int]func() error{1: fromFirst})
		}
		return ps, err
	}
	if b.party == tpServer {
		if err := toSecond(); err != nil { // its correlations go in front of the gate's first message
			return nil, err
		}
		return ps, b.armPoly(map[int]func() error{3: ps.last(fromSecond)}, map[int]func() error{2: func() error {
			var err error
			if v, err = online(t); err != nil {
				return fmt.Errorf("polynomial by HE: %w", err)
			}
			return fromFirst()
		}})
	}
	return ps, b.armPoly(map[int]func() error{2: func() error {
		if t == nil {
			return fmt.Errorf("polynomial by HE: the conversion's answer did not come before the gate's second message")
		}
		var err error
		if v, err = online(t); err != nil {
			return fmt.Errorf("polynomial by HE: %w", err)
		}
		return fromFirst()
	}}, map[int]func() error{1: toSecond, 3: ps.last(fromSecond)})
}

// armPoly arms a PolyHE step's hooks. Their FromPrime choices take COTs
// of the multiplication extension, which ReLUTrunc does not use; when
// that extension is the comparison one's (ot.Config KMul = K, Ferret),
// taking them inside the gate would interleave with its own, so the
// hooks run at once, before it (the step then costs their rounds).
func (b *twoPartyBackend) armPoly(onSend, onRecv map[int]func() error) error {
	b.hooks.arm(onSend, onRecv)
	if b.gates.OT.MulSend == b.gates.OT.Send {
		return b.hooks.flush()
	}
	return nil
}

// truncStart starts a folded step's truncation by s bits of its
// polynomial positions x (otgates.TruncSplit) in ToPrime's slots: the
// client's choices before the gate, the server's correlations in front of
// its first message, received before the client's first receive.
func (b *twoPartyBackend) truncStart(x []uint64, s int) (*polyHEStep, error) {
	c, err := b.gates.TruncSplit(len(x), b.ell, s)
	if err != nil {
		return nil, err
	}
	ps := &polyHEStep{b: b, fp: c}
	if b.party == tpClient {
		if err := c.First(x); err != nil {
			return nil, err
		}
		b.hooks.arm(nil, map[int]func() error{1: ps.last(func() error { return c.Second(nil) })})
		return ps, nil
	}
	if err := c.First(nil); err != nil {
		return nil, err
	}
	if err := c.Second(x); err != nil {
		return nil, err
	}
	ps.hookOK = true
	return ps, nil
}

// last wraps the step's last hook: it marks the step's messages done.
func (ps *polyHEStep) last(f func() error) func() error {
	return func() error {
		err := f()
		ps.hookOK = err == nil
		return err
	}
}

// finish returns the output shares in Z_2^ℓ after the gate and flush.
func (ps *polyHEStep) finish() ([]uint64, error) {
	if !ps.hookOK {
		return nil, fmt.Errorf("polynomial by HE: the step's messages did not run")
	}
	return ps.fp.Result()
}
