package pi

import (
	"context"
	"github.com/autorep/autorep/mpc/dealer"
	"testing"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// benchArch measures secure inference of one image per iteration (offline
// and online phase; online time reported as online-ms/op) for a
// random-weight architecture.
func benchArch(b *testing.B, arch string, in [3]int) { benchSuite(b, arch, in, SuiteDealer) }

// benchSuite is benchArch with the given suite. The two-party suite's
// logits must equal EvalFixed's; its per-request offline traffic (HE
// precomputation, bit triples) is reported as offline-B/op.
func benchSuite(b *testing.B, arch string, in [3]int, suite string) {
	m := newModel(b, arch, 10, in, 1)
	plan, err := Compile(m, Config{})
	if err != nil {
		b.Fatal(err)
	}
	var p0, p1 corr.Provider
	if suite == SuiteDealer {
		p0, p1 = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{1}))
	}
	c0, c1 := transport.Pipe()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- (&Server{Plan: plan, Provider: p0, Suite: suite}).Run(ctx, c0) }()
	cl := &Client{Public: plan.Public, Provider: p1, Suite: suite}
	if err := cl.Connect(ctx, c1); err != nil {
		b.Fatal(err)
	}
	x := randomImages(1, 1, in)
	want, err := plan.EvalFixed(x)
	if err != nil {
		b.Fatal(err)
	}
	var online, bytes, rounds, offline float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		y, st, err := cl.Infer(ctx, c1, x)
		if err != nil {
			b.Fatal(err)
		}
		if suite == SuiteTwoParty && maxAbs(y, want) != 0 {
			b.Fatalf("twoparty logits %v differ from EvalFixed's %v", y.Data, want.Data)
		}
		online += float64(st.OnlineTime.Microseconds()) / 1e3
		bytes, rounds = float64(st.Online.Bytes()), float64(st.Online.Rounds)
		offline = float64(st.OfflineMsgs.Bytes() + st.OfflineInline.Bytes())
	}
	b.StopTimer()
	relus, _ := plan.Public.ReLUs()
	b.ReportMetric(online/float64(b.N), "online-ms/op")
	b.ReportMetric(bytes, "online-B/op")
	b.ReportMetric(rounds, "rounds/op")
	b.ReportMetric(bytes/float64(relus), "online-B/ReLU")
	if suite == SuiteTwoParty {
		b.ReportMetric(offline, "offline-B/op")
		b.ReportMetric(float64(cl.Setup.Offline.Bytes()), "setup-B")
	}
	cl.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLeNet: go test -run '^$' -bench LeNet -benchtime 5x ./pi
func BenchmarkLeNet(b *testing.B) { benchArch(b, "lenet", [3]int{1, 28, 28}) }

// BenchmarkResNet20: go test -run '^$' -bench ResNet20 -benchtime 1x ./pi
func BenchmarkResNet20(b *testing.B) { benchArch(b, "resnet20", [3]int{3, 32, 32}) }

// BenchmarkTwoPartyLeNet: go test -run '^$' -bench TwoPartyLeNet -benchtime 2x ./pi
func BenchmarkTwoPartyLeNet(b *testing.B) { benchSuite(b, "lenet", [3]int{1, 28, 28}, SuiteTwoParty) }

// BenchmarkTwoPartyResNet20: go test -run '^$' -bench TwoPartyResNet20 -benchtime 1x ./pi
func BenchmarkTwoPartyResNet20(b *testing.B) {
	benchSuite(b, "resnet20", [3]int{3, 32, 32}, SuiteTwoParty)
}
