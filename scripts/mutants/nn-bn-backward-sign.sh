# Issue 20 (7): the training-mode batch-norm input gradient gets the sign
# of its xhat·mean(dy·xhat) term wrong (dx = scale·(dy − mean(dy) +
# xhat·mean(dy·xhat))), so every layer below a batch norm trains on a wrong
# gradient while forward passes and the loss stay exact.
# Killed by models TestTorchParity/resnet_train (gradients vs PyTorch); run
# alone here to show the PyTorch fixture catches it (nn's finite-difference
# tests do too).
DESCRIPTION="nn: batch-norm backward, sign of the xhat term flipped (wrong gradients, exact forward)"
PACKAGES="./models"
TESTFLAGS="-run TestTorchParity"
apply() {
	mutate nn/batchnorm.go 's/bx, c0 := -scale\*k, scale\*\(k\*mu-mdy\)/bx, c0 := scale*k, scale*(-k*mu-mdy)/'
}
