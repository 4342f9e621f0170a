# Issue 20 (d): one more online round per inference: the client
# acknowledges the revealed output with a one-byte message the server waits
# for (a plausible protocol change that leaks nothing but costs an RTT per
# image: LeNet-5 10 rounds instead of 9, ResNet-20 21 instead of 20).
# Killed by pi TestCommittedCostsWithoutData (no dataset needed) and
# TestCommittedModelsSecurePins (exact bytes and rounds of
# the committed models).
DESCRIPTION="pi: extra output-acknowledgement round (LeNet 10, ResNet-20 21 rounds)"
PACKAGES="./pi"
apply() {
	mutate pi/secure.go 's/(out, err := c\.sess\.RevealToClient\("output", y\)\n\tif err != nil \{\n\t\treturn nil, Stats\{\}, ctxErr\(ctx, fmt\.Errorf\("pi: client: %w", err\)\)\n\t\})/$1\n\tif err := conn.Send([]byte{0}); err != nil {\n\t\treturn nil, Stats{}, err\n\t}/'
	mutate pi/secure.go 's/(if _, err := s\.RevealToClient\("output", y\); err != nil \{\n\t\t\treturn fmt\.Errorf\("pi: server: %w", err\)\n\t\t\})/$1\n\t\tif _, err := conn.Recv(); err != nil {\n\t\t\treturn err\n\t\t}/'
}
