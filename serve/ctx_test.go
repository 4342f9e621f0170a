package serve

import (
	"context"
	"testing"
	"time"
)

// testCtx is the context for a test's session work. It ends 30 s before
// the test binary's own deadline (go test -timeout), so a hang still
// fails with the blocked operation's error rather than the binary's
// panic, while a slow run — the race detector on a loaded 2-core machine
// stretches a twoparty session to minutes — does not fail a test that
// would pass. A fixed 60 s guard did exactly that.
func testCtx(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d.Add(-30*time.Second))
	}
	return context.WithTimeout(context.Background(), 10*time.Minute)
}
