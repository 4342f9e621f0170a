package pi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/autorep/autorep/transport"
)

// A prepare runs the two-party suite's per-request offline phase (the HE
// work on masks, twoPartyBackend.precompute) ahead of the request it
// serves, so that the request, when its image arrives, runs the online
// phase only:
//
//	client → server: msgPrepare, uvarint n (≥ 1)
//	server → client: msgOK, or msgError + reason (refused; the session goes on)
//	both: the offline phase of a request of n images, kept
//
// Bounds: at most one prepared request per session (a second prepare is
// refused until a request has used or dropped it), n within the server's
// MaxImages. The next request of exactly n images uses it; a request of
// another size drops it and runs its own offline phase (both parties know
// n, so they agree without a message). Material stays single-use
// (takePre). The dealer suite refuses prepares: its material is fetched
// ahead through its provider (serve's pools).

// ErrPrepareRefused is returned (wrapped) by Client.Prepare when the
// server refuses the prepare; the session remains usable.
var ErrPrepareRefused = errors.New("prepare refused")

// maxRefusal bounds the server's answer to a prepare.
const maxRefusal = 512

// Prepare runs the offline phase of the next request of n images now,
// ahead of it (two-party suite only; the first call on a connection runs
// Connect), and returns the client's statistics of it (Images,
// OfflineMsgs, OfflineTime). The next Infer of exactly n images then runs
// its online phase only (its Stats.Prepared is set); an Infer of another
// size drops the prepared material. A session holds at most one prepared
// request: Prepare refuses while one is held. A server's refusal (too many
// images, one already held) wraps ErrPrepareRefused and leaves the
// session usable; any other error ends it. Cancelling ctx closes conn.
func (c *Client) Prepare(ctx context.Context, conn transport.Conn, n int) (Stats, error) {
	if err := c.Connect(ctx, conn); err != nil {
		return Stats{}, err
	}
	switch {
	case c.conn != conn:
		return Stats{}, errors.New("pi: client is connected to another peer")
	case c.broken != nil:
		return Stats{}, fmt.Errorf("pi: client: session failed earlier: %w", c.broken)
	case c.tp == nil:
		return Stats{}, fmt.Errorf("pi: client: %w: the %s suite fetches its material ahead through its provider", ErrPrepareRefused, SuiteDealer)
	case n < 1 || n > MaxBatch:
		return Stats{}, fmt.Errorf("pi: client: prepare of %d images, want 1 to %d", n, MaxBatch)
	case c.prepared > 0:
		return Stats{}, fmt.Errorf("pi: client: %w: a prepared request of %d images is held (at most one per session)", ErrPrepareRefused, c.prepared)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	st, err := c.prepare(conn, n)
	if err != nil && !errors.Is(err, ErrPrepareRefused) {
		c.broken = err // the peers are out of step: no further requests
		err = ctxErr(ctx, err)
	}
	return st, err
}

// prepare runs the client's side of a prepare of n images.
func (c *Client) prepare(conn transport.Conn, n int) (Stats, error) {
	r := twoPartyRun{c.tp}
	st := newStatsRecorder(conn, c.Public, r, n)
	t0 := time.Now()
	transport.SetPhase(conn, transport.PhaseOffline)
	if err := conn.Send(binary.AppendUvarint([]byte(msgPrepare), uint64(n))); err != nil {
		return Stats{}, fmt.Errorf("pi: client: prepare: %w", err)
	}
	ans, err := transport.RecvMax(conn, maxRefusal)
	switch {
	case err != nil:
		return Stats{}, fmt.Errorf("pi: client: prepare: %w", err)
	case len(ans) >= len(msgError) && string(ans[:len(msgError)]) == msgError:
		return Stats{}, fmt.Errorf("pi: client: %w by the server: %q", ErrPrepareRefused, ans[len(msgError):])
	case string(ans) != msgOK:
		return Stats{}, errors.New("pi: client: malformed answer to a prepare")
	}
	if err := r.offline(conn, n); err != nil {
		return Stats{}, fmt.Errorf("pi: client: prepare: %w", err)
	}
	c.prepared = n
	return st.prepared(time.Since(t0)), nil
}

// prepare answers a prepare of n images (at most MaxBatch+1, recvRequest)
// while held images are prepared already, and returns the images then
// prepared. A refusal is an answer; only a failed offline phase or a
// broken connection is an error (the session ends).
func (sv *Server) prepare(conn transport.Conn, r suiteRun, n, held int) (int, error) {
	var refusal error
	switch {
	case suiteName(sv.Suite) != SuiteTwoParty:
		refusal = fmt.Errorf("the %s suite fetches its material ahead through its provider, not by a prepare", suiteName(sv.Suite))
	case held > 0:
		refusal = fmt.Errorf("a prepared request of %d images is held (at most one per session)", held)
	default:
		refusal = checkImages(sv.Plan.Public, uint64(n), sv.maxImages())
	}
	if refusal != nil {
		if err := conn.Send([]byte(msgError + "prepare: " + refusal.Error())); err != nil {
			return held, fmt.Errorf("pi: server: prepare: %w", err)
		}
		return held, nil
	}
	if sv.OnRequest != nil {
		sv.OnRequest(n)
	}
	// The server's figures start after the prepare message, as a
	// request's do after the request.
	st := newStatsRecorder(conn, sv.Plan.Public, r, n)
	t0 := time.Now()
	if err := conn.Send([]byte(msgOK)); err != nil {
		return 0, fmt.Errorf("pi: server: prepare: %w", err)
	}
	if err := r.offline(conn, n); err != nil {
		return 0, fmt.Errorf("pi: server: prepare: %w", err)
	}
	s := st.prepared(time.Since(t0))
	if sv.OnPrepare != nil {
		sv.OnPrepare(s)
	}
	return n, nil
}

// prepared closes a prepare's offline phase and returns its statistics,
// with a row per step holding its offline bytes and a row "prepare" for
// the rest (the prepare's messages): they sum to OfflineMsgs.
func (r *statsRecorder) prepared(d time.Duration) Stats {
	r.offlineDone(d)
	r.stats.Images = r.n
	r.stats.Layers = r.offlineRows("prepare")
	for i := range r.pub.Steps {
		st := &r.pub.Steps[i]
		r.stats.Layers = append(r.stats.Layers, LayerStats{Name: st.Name, Op: st.Op, OfflineBytes: r.offStep[i]})
	}
	return r.stats
}
