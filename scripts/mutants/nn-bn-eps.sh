# Issue 20 (d): a plaintext change that moves the committed models'
# accuracy: batch norm's epsilon 1e-3 instead of PyTorch's 1e-5 (the
# running statistics the models were trained and recorded with are then
# normalised differently; pi folds the same epsilon, so secure and float
# logits still agree). The committed ResNet-20s evaluate to 88.09% instead
# of the recorded 88.21% and 84.75% instead of 84.58% (12.9K degree 2).
# Killed by models TestCommittedModelsAccuracy (run alone here; nn
# TestBatchNormStatistics kills it too).
DESCRIPTION="nn: batch-norm epsilon 1e-3 (committed ResNet-20 accuracies move)"
PACKAGES="./models"
TESTFLAGS="-run TestCommittedModelsAccuracy"
apply() {
	mutate nn/batchnorm.go 's/C: c, Eps: 1e-5, Momentum: 0\.1, Training: true,/C: c, Eps: 1e-3, Momentum: 0.1, Training: true,/'
}
