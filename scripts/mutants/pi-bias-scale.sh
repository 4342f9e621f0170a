# Issue 20 (d): a wrong fixed-point scale in the compiler: linear-layer
# biases are encoded with one fractional bit too few (halved). The
# fixed-point executor and the secure run share the plan, so they still
# agree with each other; the committed models' secure logits move away
# from the float model's (LeNet-5 by up to 0.78). Killed by pi
# TestCommittedModelsSecurePins (|secure − float|; run alone here:
# TestCompileCustomGraph, TestLeNetRandomSecureMatchesFixed, TestLeNetMNIST
# and TestResNet20CIFAR kill it too).
DESCRIPTION="pi: biases encoded at half scale (secure = fixed point, both wrong)"
PACKAGES="./pi"
TESTFLAGS="-run TestCommittedModelsSecurePins"
apply() {
	mutate pi/compile.go 's/e, err := encodeScaled\(v, x\.frac\+c\.f, x\.div\)/e, err := encodeScaled(v, x.frac+c.f-1, x.div)/'
}
