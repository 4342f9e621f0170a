# Issue 20 (b): the polynomial-coefficient masks B1, B2 are zero (where the
# dealer makes them for the server and where it folds them into the
# client's KindPoly material, so results stay correct): the setup message
# D = C − B gives the client the server's coefficients in the clear.
# Killed by mpc TestSuitePrivacy (Act, Poly, network: uniformity of the
# setup message, coefficient encodings found in the client's view).
DESCRIPTION="dealer: coefficient masks zero (client receives the coefficients)"
PACKAGES="./mpc ./pi ./serve"
apply() {
	mutate mpc/dealer.go 's/m0\.Vecs = \[\]Vec\{SeededVec\(d\.coefMaskSeed\(req\.Label\), coefMaskWords\*req\.Act\.C\)\}/m0.Vecs = []Vec{{Data: make([]uint64, coefMaskWords*req.Act.C)}}/'
	mutate mpc/dealer.go 's/b := ring\.ExpandSeed\(d\.coefMaskSeed\(req\.Label\), coefMaskWords\*req\.Act\.C\)\.Data/b := make([]uint64, coefMaskWords*req.Act.C)/'
}
