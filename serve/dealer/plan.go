package dealer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
)

// Plan registration (issue 19, finding 2). The model server may register
// its session's public request lists with the dealer once, after joining:
// a frame "ADPL", uvarint images, then the setup requests and the
// per-inference requests, each list as a uvarint count and, per request,
// a uvarint length and corr.Request.MarshalBinary. The dealer answers
// "ADPL" or "ADER". From then on it serves either party only requests of
// the plan: a request's (kind, label) must be in a list with the same
// spec (corr.Request.Same), and each party may ask for it at most as often
// as the setup list names it plus images times the per-inference list; a
// request outside the plan is refused (cause "plan") before anything is
// generated. With Server.RequirePlan, requests before a registration are
// refused too, so a client holding a valid ticket can only fetch what the
// server's plan grants.

const tagPlan = "ADPL"

// Bounds of a plan frame: at most maxPlanRequests requests in all and
// maxPlanFrame bytes (the ReLU masks of a large network are a few hundred
// kilobytes).
const (
	maxPlanRequests = 1 << 16
	maxPlanFrame    = 64 << 20
	maxPlanImages   = 1 << 20
)

// ErrPlan is returned (and sent to the party) for a request outside the
// registered plan, or a malformed or repeated registration.
var ErrPlan = errors.New("request outside the session's registered plan")

type planKey struct {
	kind  corr.MaterialKind
	label string
}

// plan is a session's registered plan and the requests counted against it.
type plan struct {
	specs map[planKey][]corr.Request // the distinct specs of each (kind, label)
	limit map[planKey]int64          // requests allowed per party
	mu    sync.Mutex
	used  [2]map[planKey]int64
}

// encodePlan encodes a plan registration.
func encodePlan(setup, infer []corr.Request, images int) ([]byte, error) {
	if images < 1 || images > maxPlanImages {
		return nil, fmt.Errorf("dealer: plan for %d images (1..%d)", images, maxPlanImages)
	}
	if len(setup)+len(infer) > maxPlanRequests {
		return nil, fmt.Errorf("dealer: plan of %d requests, limit %d", len(setup)+len(infer), maxPlanRequests)
	}
	b := binary.AppendUvarint([]byte(tagPlan), uint64(images))
	for _, list := range [][]corr.Request{setup, infer} {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, r := range list {
			e, err := r.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("dealer: plan: %w", err)
			}
			b = binary.AppendUvarint(b, uint64(len(e)))
			b = append(b, e...)
		}
	}
	if len(b) > maxPlanFrame {
		return nil, fmt.Errorf("dealer: plan of %d bytes, limit %d", len(b), maxPlanFrame)
	}
	return b, nil
}

// parsePlan decodes a registration strictly, checking every request with
// check (the per-request bounds).
func parsePlan(b []byte, check func(corr.Request) error) (*plan, error) {
	if len(b) < len(tagPlan) || string(b[:len(tagPlan)]) != tagPlan {
		return nil, errors.New("malformed plan")
	}
	b = b[len(tagPlan):]
	next := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("malformed plan")
		}
		b = b[n:]
		return v, nil
	}
	images, err := next()
	if err != nil {
		return nil, err
	}
	if images < 1 || images > maxPlanImages {
		return nil, fmt.Errorf("plan for %d images (1..%d)", images, maxPlanImages)
	}
	pl := &plan{specs: map[planKey][]corr.Request{}, limit: map[planKey]int64{}, used: [2]map[planKey]int64{{}, {}}}
	total := uint64(0)
	for _, times := range []int64{1, int64(images)} {
		n, err := next()
		if err != nil {
			return nil, err
		}
		if total += n; total > maxPlanRequests {
			return nil, fmt.Errorf("plan of more than %d requests", maxPlanRequests)
		}
		for range n {
			l, err := next()
			if err != nil {
				return nil, err
			}
			if l > uint64(len(b)) {
				return nil, errors.New("malformed plan: truncated request")
			}
			r, err := corr.UnmarshalRequest(b[:l])
			if err != nil {
				return nil, fmt.Errorf("plan request: %w", err)
			}
			b = b[l:]
			if err := check(r); err != nil {
				return nil, fmt.Errorf("plan: %w", err)
			}
			k := planKey{r.Kind, r.Label}
			if !containsSame(pl.specs[k], r) {
				pl.specs[k] = append(pl.specs[k], r)
			}
			pl.limit[k] += times
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("malformed plan: %d trailing bytes", len(b))
	}
	return pl, nil
}

func containsSame(list []corr.Request, r corr.Request) bool {
	for _, o := range list {
		if o.Same(r) {
			return true
		}
	}
	return false
}

// allow counts party p's request against the plan, or refuses it.
func (pl *plan) allow(p mpc.Party, r corr.Request) error {
	k := planKey{r.Kind, r.Label}
	if !containsSame(pl.specs[k], r) {
		return refuse(CausePlan, fmt.Errorf("%w: %v %q with this shape is not in it", ErrPlan, r.Kind, r.Label))
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.used[p][k] >= pl.limit[k] {
		return refuse(CausePlan, fmt.Errorf("%w: %v %q asked for more than the %d times it grants", ErrPlan, r.Kind, r.Label, pl.limit[k]))
	}
	pl.used[p][k]++
	return nil
}

// RegisterPlan registers the session's public plan with the dealer (server
// party only, once per session, before its first request): the setup
// requests, the requests of one inference, and the number of inferences
// the session may run. The dealer then serves both parties only these
// requests, at most that often (see the plan registration above).
func (p *Remote) RegisterPlan(setup, infer []corr.Request, images int) error {
	if p.party != mpc.Server {
		return errors.New("dealer: only the server registers the plan")
	}
	b, err := encodePlan(setup, infer, images)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.touch()
	if err := p.conn.Send(b); err != nil {
		return fmt.Errorf("dealer: register plan: %w", err)
	}
	return p.answer(tagPlan, "register plan")
}
