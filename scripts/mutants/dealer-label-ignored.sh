# The dealer ignores the layer label when deriving material, so two layers
# of one kind share their masks (the n-th ReLU of layer 1 and of layer 2,
# the weight masks of all linear layers). With equal inputs the openings
# repeat; the server sees the difference of two layers' inputs. Killed by
# mpc TestDealerIndexFresh (labels) and TestSuitePrivacy (repeated words).
DESCRIPTION="dealer: label not in the derivation (masks shared across layers)"
PACKAGES="./mpc ./pi ./serve ./serve/dealer"
apply() {
	mutate mpc/dealer/generator.go 's/\tmac\.Write\(hdr\[:\]\)\n\tmac\.Write\(\[\]byte\(label\)\)\n/\tmac.Write(hdr[:])\n/'
}
