# Issue 20 (c): the DaPa step counters ("<site>.dapa_steps": training
# steps, batches in the running statistics) are no longer part of a masked
# site's state, so no checkpoint holds them: a resumed AutoReP search
# restarts DaPa's refit schedule and replaces its running input statistics
# by the next batch's, and ends with other masks and coefficients than the
# uninterrupted run. Killed by reduce TestAutoRePResumeExact (resumed run
# differs; the search checkpoint has no dapa_steps).
DESCRIPTION="reduce: DaPa step counters dropped from the checkpoint (inexact resume)"
PACKAGES="./reduce"
apply() {
	mutate reduce/masked.go 's/\n\t\t\{Name: "dapa_steps", Tensor: tensor\.FromData\(m\.counters, 2\)\},//'
}
