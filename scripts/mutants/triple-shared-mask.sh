# Beaver triples with b = a (c = a²): still correct, but Mul opens x − a and
# y − a, so the peer learns x − y. Killed by mpc TestSuitePrivacy
# ("Mul, Square": x·x repeats the opened words).
DESCRIPTION="dealer: Beaver triple b = a (Mul leaks x − y)"
PACKAGES="./mpc ./pi"
apply() {
	mutate mpc/kinds.go 's/b, b0, b1 := g\.Mask\(req\.N\)/b, b0, b1 := a, a0, a1/'
}
