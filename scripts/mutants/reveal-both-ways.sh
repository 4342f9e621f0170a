# RevealToClient as an exchange: the client still gets the logits, but the
# server also receives the client's share and, adding its own, the logits.
# The byte and round counts of TestInputAndReveal, TestLayerPipelining and
# TestPreopenAct kill it too (the reveal doubles); the question is whether
# the privacy tests notice on their own, so only they run (TESTFLAGS).
# Killed by mpc TestSuitePrivacy (network + RevealToClient: the client's
# logit share found in the server's view).
DESCRIPTION="RevealToClient opens to both parties (server learns the output)"
PACKAGES="./mpc"
TESTFLAGS="-run Privacy|Uniform|Transcript"
apply() {
	mutate mpc/basic.go 's/\tif s\.Party == Server \{\n\t\treturn nil, s\.sendVec\("reveal "\+label, x\)\n\t\}\n\ttheirs, err := s\.recvVec\("reveal "\+label, len\(x\)\)/\tif s.Party == Server {\n\t\t_, err := s.exchange("reveal "+label, x)\n\t\treturn nil, err\n\t}\n\ttheirs, err := s.exchange("reveal "+label, x)/'
}
