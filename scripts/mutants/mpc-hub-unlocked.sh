# Issue 20 (6): the hub records a generated item (deletes the in-flight
# entry, stores the other party's half) without holding its mutex, so the
# two parties' concurrent Gets write the hub's maps at the same time.
# Killed by mpc/dealer TestPairingConcurrentGet under -race (make test-race), every
# run; without -race only the runtime's best-effort concurrent-map check
# can catch it (2 of 3 runs of -count=5 failed when this was written).
DESCRIPTION="mpc: hub updates its maps after generation without the lock (data race)"
PACKAGES="./mpc/dealer"
TESTFLAGS="-race -run TestPairingConcurrentGet"
apply() {
	mutate mpc/dealer/generator.go 's/\th\.mu\.Lock\(\)\n(\tdelete\(h\.inflight, gk\)\n)/${1}/'
	mutate mpc/dealer/generator.go 's/(\tfl\.err = err\n)\th\.mu\.Unlock\(\)\n(\tclose\(fl\.done\)\n)/${1}${2}/'
}
