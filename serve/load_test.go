package serve

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentClients runs 8 clients × 2 inferences at once against one
// server and one dealer (TLS on every connection), checks every label
// against the fixed-point executor and that no goroutine is left behind.
func TestConcurrentClients(t *testing.T) {
	plan := loadPlanFile(t, baseModel)
	base := runtimeGoroutines()
	dir := t.TempDir()
	srvCfg, cliCfg := tlsPair(t, dir)
	d, _ := startDealer(t, "127.0.0.1:0", srvCfg)
	srv, s := startServer(t, plan, d.addr, 2, srvCfg, cliCfg)
	const clients, per = 8, 2
	ctx, cancel := testCtx(t)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	t0 := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(cliCfg), Pool: 1})
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", c, err)
				return
			}
			defer sess.Close()
			for i := range per {
				x := randImage(int64(100*c+i), plan.Public.Input)
				r, err := sess.Infer(ctx, x)
				if err != nil {
					errs <- fmt.Errorf("client %d image %d: %w", c, i, err)
					return
				}
				if want := fixedLabel(t, plan, x); r.Label != want {
					errs <- fmt.Errorf("client %d image %d: label %d, want %d", c, i, r.Label, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	t.Logf("%d clients × %d inferences in %v; server %+v", clients, per, time.Since(t0).Round(time.Millisecond), st)
	if st.Inferences != clients*per || st.Failed != 0 {
		t.Errorf("server counted %d inferences, %d failed sessions", st.Inferences, st.Failed)
	}
	srv.stop(t)
	d.stop(t)
	settleGoroutines(t, base)
}
