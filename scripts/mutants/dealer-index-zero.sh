# Issue 20 (a): the dealer derives every request's material from index 0,
# so a session reuses each layer's masks on every inference and every
# max-pool round. A real server would see (x1 − R) and (x2 − R) and learn
# x1 − x2. Killed by mpc TestDealerIndexFresh, TestRepeatedRequestsFresh,
# TestTwoInferencesFresh, TestLinear (fresh output shares), pi
# TestTwoInferencesFresh and serve/dealer TestNetworkDealerFresh.
DESCRIPTION="dealer: per-item index forced to 0 (masks reused within a session)"
PACKAGES="./mpc ./fss ./pi ./serve ./serve/dealer"
apply() {
	mutate mpc/dealer/generator.go 's/PRG: d\.prg\(req\.Kind, req\.Label, index\)/PRG: d.prg(req.Kind, req.Label, 0)/'
}
