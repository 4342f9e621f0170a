package serve

import (
	"context"
	"testing"
	"time"
)

// BenchmarkInference measures one private single-image inference over
// loopback TCP (TLS) with the three roles in process: online time, online
// bytes and the client's dealer material per op.
//
//	go test -run '^$' -bench Inference -benchtime 10x ./serve
func BenchmarkInference(b *testing.B) {
	for _, m := range []struct{ name, file string }{{"lenet-relu", baseModel}, {"lenet-autorep2", testModel}} {
		b.Run(m.name, func(b *testing.B) {
			plan := loadPlanFile(b, m.file)
			srvCfg, cliCfg := tlsPair(b, b.TempDir())
			d, _ := startDealer(b, "127.0.0.1:0", srvCfg)
			defer d.stop(b)
			srv, _ := startServer(b, plan, d.addr, 1, srvCfg, cliCfg, func(s *Server) { s.Logf = nil })
			defer srv.stop(b)
			ctx := context.Background()
			sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(cliCfg), Pool: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer sess.Close()
			x := randImage(1, plan.Public.Input)
			var online, offline time.Duration
			var bytes, material, rounds int64
			b.ResetTimer()
			for range b.N {
				r, err := sess.Infer(ctx, x)
				if err != nil {
					b.Fatal(err)
				}
				online += r.Stats.OnlineTime
				offline += r.Stats.OfflineTime
				bytes += r.Stats.Online.Bytes()
				rounds += r.Stats.Online.Rounds
				material += r.Material
			}
			n := float64(b.N)
			b.ReportMetric(float64(online.Microseconds())/1e3/n, "online-ms/op")
			b.ReportMetric(float64(offline.Microseconds())/1e3/n, "offline-ms/op")
			b.ReportMetric(float64(bytes)/n, "online-B/op")
			b.ReportMetric(float64(rounds)/n, "rounds/op")
			b.ReportMetric(float64(material)/n, "material-B/op")
		})
	}
}
