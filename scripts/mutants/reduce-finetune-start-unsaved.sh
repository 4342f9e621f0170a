# Issue 20 (c): the finetune's starting point is not checkpointed before its
# first epoch (the state before commit 78c2e82). An AutoReP run killed after
# finetune epoch 1 replaced the best snapshot, but before that epoch's
# checkpoint, resumes the finetune from the replaced snapshot instead of the
# search's best. Killed by reduce TestAutoRePResumeExact/search-done.
DESCRIPTION="reduce: finetune start not checkpointed (resume after a kill in finetune epoch 1 starts from the wrong model)"
PACKAGES="./reduce"
TESTFLAGS="-run TestAutoRePResumeExact"
apply() {
	mutate reduce/search.go 's/\tif t\.Epoch\(\) == 0 \{\n(\t\t\/\/[^\n]*\n)*\t\tif err := t\.SaveCheckpoint\(t\.Checkpoint\); err != nil \{\n\t\t\treturn fmt\.Errorf\("reduce: finetune: %w", err\)\n\t\t\}\n\t\}\n//'
}
