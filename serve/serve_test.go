package serve

import (
	"context"
	"testing"
	"time"
)

func TestEndToEnd(t *testing.T) {
	plan := loadPlan(t)
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	srv, s := startServer(t, plan, d.addr, 1, insecure, insecure)
	defer srv.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		x := randImage(int64(i), plan.Public.Input)
		r, err := sess.Infer(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if want := fixedLabel(t, plan, x); r.Label != want {
			t.Errorf("image %d: private label %d, fixed-point label %d", i, r.Label, want)
		}
		t.Logf("image %d: label %d online %v offline %v bytes %d rounds %d material %d", i, r.Label, r.Stats.OnlineTime, r.Stats.OfflineTime, r.Stats.Online.Bytes(), r.Stats.Online.Rounds, r.Material)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("connect %+v; server %+v", sess.Connect, s.Stats())
}
