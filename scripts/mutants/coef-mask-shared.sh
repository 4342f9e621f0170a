# The coefficient masks B1, B2 no longer depend on the layer label: every
# polynomial layer of a session uses the same masks, still correct, but the
# client gets D − D' = C − C', the differences of two layers'
# coefficients. Killed by mpc TestDealerIndexFresh (coef-mask material of
# two labels).
DESCRIPTION="dealer: one coefficient mask for all polynomial layers"
PACKAGES="./mpc ./pi ./serve"
apply() {
	mutate mpc/kinds.go 's/g\.SessionSeed\(KindCoefMask, req\.Label\)/g.SessionSeed(KindCoefMask, "")/g'
}
