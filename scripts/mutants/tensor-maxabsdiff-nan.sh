# Issue 20 (5): MaxAbsDiff skips pairs that differ through a NaN or an
# infinity (as it did before: NaN against 2 counted as 0), so every test and
# `bench pi` that compares against a tolerance passes NaN logits.
# Killed by tensor TestMaxAbsDiff (NaN vs number, Inf vs number).
DESCRIPTION="tensor: MaxAbsDiff ignores NaN/Inf differences (NaN logits pass a tolerance check)"
PACKAGES="./tensor"
apply() {
	mutate tensor/tensor.go 's/(if d != d \|\| math\.IsInf\(d, 0\) \{\n\t\t\t)return math\.Inf\(1\)/${1}continue/'
}
