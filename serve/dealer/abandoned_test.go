package dealer

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/internal/metrics"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/serve/secnet"
)

// TestAbandonedAllocationCounted: key memory still being allocated for
// generations that ended first (fss.AbandonedBytes: a party asked for a
// batch above the buffer pool's bound and left) counts against MaxMemory:
// while it is at the bound a request that generates waits MemoryWait and
// fails its session with ErrMemory, nothing generated; once the
// allocation is done the next session is served. Stats and the metric
// report it.
func TestAbandonedAllocationCounted(t *testing.T) {
	var pending atomic.Int64
	abandonedBytes = pending.Load
	defer func() { abandonedBytes = fss.AbandonedBytes }()
	const limit = 1 << 30
	srv := &Server{MaxMemory: limit, MemoryWait: 300 * time.Millisecond}
	addr := serveTest(t, srv, secnet.Config{})
	get := func() error {
		sid, _ := NewSessionID()
		pr, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{4}, Ticket{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = pr.Get(corr.Request{Kind: mpc.KindTriple, Label: "t", N: 16})
		return err
	}
	pending.Store(limit + 1) // 1 GiB + 1 B of an abandoned ReLU batch
	if err := get(); err == nil || !strings.Contains(err.Error(), ErrMemory.Error()) || !strings.Contains(err.Error(), "still being allocated") {
		t.Fatalf("with an abandoned allocation above the bound: %v, want ErrMemory", err)
	}
	st := srv.Stats()
	if st.Generated != 0 || st.Refused[CauseMemory] != 1 || st.Abandoned != limit+1 {
		t.Errorf("after the refusal: generated %d, memory refusals %d, abandoned %d; want 0, 1, %d", st.Generated, st.Refused[CauseMemory], st.Abandoned, limit+1)
	}
	reg := metrics.NewRegistry()
	srv.Register(reg)
	var m strings.Builder
	if err := reg.WriteText(&m); err != nil || !strings.Contains(m.String(), "autorep_dealer_abandoned_alloc_bytes 1.073741825e+09\n") {
		t.Errorf("metrics without the abandoned bytes (%v):\n%s", err, m.String())
	}
	pending.Store(0) // the runtime finished clearing it
	if err := get(); err != nil {
		t.Fatalf("after the abandoned allocation completed: %v", err)
	}
	if st := srv.Stats(); st.Generated != 1 || st.Abandoned != 0 {
		t.Errorf("after the allocation completed: generated %d, abandoned %d; want 1, 0", st.Generated, st.Abandoned)
	}
}
