# Issue 20 (b): SetupPoly sends the coefficients without their masks
# (the mask B read as zero: D = C instead of C − B): the client receives the server's polynomial
# coefficients in the clear. The results are then wrong too (the dealer's
# [B·v] shares still assume the mask), so correctness tests (TestPoly,
# TestAct, ...) kill it anyway; the question here, as in the issue, is
# whether the privacy tests notice: they run alone (TESTFLAGS). Killed by
# mpc TestSuitePrivacy (coefficient encodings found in the client's setup
# message, which is also not uniform). Before it: survived
# TestOpenedValuesUniform, TestMSBOpeningsUniform and
# TestTranscriptHidesInputAndOutput.
DESCRIPTION="SetupPoly: coefficient mask not subtracted (client receives the coefficients)"
PACKAGES="./mpc"
TESTFLAGS="-run Privacy|Uniform|Transcript"
apply() {
	mutate mpc/poly.go 's/\ta := m\.Vecs\[0\]\.Data\n\tk\.hat = make/\ta := make([]uint64, len(m.Vecs[0].Data)) \/\/ mutant: no mask\n\tk.hat = make/'
}
