package bench

import (
	"os"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
)

// lenetMNIST returns a random-weight LeNet (LoadModel of the architecture
// name) and n images of the fixed MNIST test subset, or skips the test
// when $AUTOREP_DATA has no MNIST.
func lenetMNIST(t *testing.T, n int) (*models.Model, *data.Set) {
	t.Helper()
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the bench pi run on MNIST")
	}
	m, random, err := LoadModel("lenet", "mnist", dir)
	if err != nil {
		t.Skipf("mnist not available: %v", err)
	}
	if !random {
		t.Fatal("an architecture name should give random weights")
	}
	set, err := data.Load(dir, "mnist", false)
	if err != nil {
		t.Skip(err)
	}
	set, err = Subset(set, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	return m, set
}

// TestBenchPILeNet runs the benchmark on a random-weight LeNet and two MNIST
// images and checks the report against the protocol cost formulas.
func TestBenchPILeNet(t *testing.T) {
	m, set := lenetMNIST(t, 2)
	plan, err := pi.Compile(m, pi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, trans := range []string{"pipe", "tcp"} {
		rep := &Report{}
		rep.ReLUs, rep.Comparisons = plan.Public.ReLUs()
		if err := Measure(plan, m, set, 2, Options{Transport: trans}, rep); err != nil {
			t.Fatal(err)
		}
		// 16 B per ReLU (with its truncation) and per max-pool comparison,
		// but 8 B per ReLU of an activation right after a linear step (the
		// client's half of its opening is preopened offline), 8 B per input
		// element of each linear layer, 8 B per logit.
		linIn, preopened := 0, 0
		for _, st := range plan.Public.Steps {
			switch {
			case st.Op == pi.OpLinear:
				linIn += st.Conv.C * st.Conv.H * st.Conv.W
			case st.Op == pi.OpAct && st.In[0] >= 0 && plan.Public.Steps[st.In[0]].Op == pi.OpLinear:
				preopened += st.ReLUs
			}
		}
		want := int64(16*(rep.ReLUs+rep.Comparisons) - 8*preopened + 8*linIn + 8*m.Classes)
		if rep.OnlineBytes != want {
			t.Errorf("%s: online bytes %d, formula %d", trans, rep.OnlineBytes, want)
		}
		if rep.Agree != 1 || rep.MaxLogitErr > 0.01 || rep.OnlineRounds < 5 || rep.P50 <= 0 || rep.P90 < rep.P50 {
			t.Errorf("%s: implausible report %+v", trans, rep)
		}
		if rep.ServerMaterial == 0 || rep.ClientMaterial == 0 || len(rep.Layers) == 0 || len(rep.Estimates) != 2 {
			t.Errorf("%s: incomplete report %+v", trans, rep)
		}
		if lan, wan := rep.Estimates[0], rep.Estimates[1]; !(lan.Ms < wan.Ms) || lan.Ms < rep.P50 {
			t.Errorf("%s: cost model LAN %v, WAN %v, p50 %v", trans, lan.Ms, wan.Ms, rep.P50)
		}
	}
}

// TestBenchPITwoParty runs the benchmark with the dealer-free suite on one
// MNIST image over loopback TCP: the logits equal the fixed-point
// executor's, no dealer material, and the byte totals add up.
func TestBenchPITwoParty(t *testing.T) {
	m, set := lenetMNIST(t, 1)
	plan, err := pi.Compile(m, pi.Config{Suite: pi.SuiteTwoParty})
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Suite: pi.SuiteTwoParty}
	if err := Measure(plan, m, set, 1, Options{Transport: "tcp"}, rep); err != nil {
		t.Fatal(err)
	}
	if rep.Agree != 1 || rep.MaxFixedErr != 0 || rep.MinEll < 34 || rep.MinEll > 64 {
		t.Errorf("twoparty: agree %v, max |logit − fixed| %v, min ell %d; want 1, 0 and 34..64 (2f+2 at f = 16)", rep.Agree, rep.MaxFixedErr, rep.MinEll)
	}
	if rep.ServerMaterial != 0 || rep.ClientMaterial != 0 || rep.SetupMaterial != 0 {
		t.Errorf("twoparty: dealer material %d, %d, %d", rep.ServerMaterial, rep.ClientMaterial, rep.SetupMaterial)
	}
	var sum, off int64
	for _, l := range rep.Layers {
		sum += l.Bytes
		off += l.OfflineBytes
	}
	// The bit triples are made in the offline phase (none inline), and
	// its bytes are the layers' (the request row's included).
	if sum != rep.OnlineBytes || off != rep.RequestMsgs || rep.OfflineInlineBytes != 0 || rep.OfflineInlineRounds != 0 {
		t.Errorf("twoparty: layers sum to %d online, %d offline bytes; report %d, %d (inline %d in %d rounds)",
			sum, off, rep.OnlineBytes, rep.RequestMsgs, rep.OfflineInlineBytes, rep.OfflineInlineRounds)
	}
	if rep.TotalBytes != rep.SetupBytes+rep.OfflineBytes+rep.OnlineBytes || rep.SetupBytes == 0 {
		t.Errorf("twoparty: total %d ≠ setup %d + offline %d + online %d", rep.TotalBytes, rep.SetupBytes, rep.OfflineBytes, rep.OnlineBytes)
	}
}
