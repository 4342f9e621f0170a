package corr

// WithoutKind runs f with kind k's registered description (if any)
// removed, as in a program that does not import the kind's family, and
// restores it afterwards.
func WithoutKind(k MaterialKind, f func()) {
	kindsMu.Lock()
	impl, ok := kinds[k]
	delete(kinds, k)
	kindsMu.Unlock()
	defer func() {
		if ok {
			kindsMu.Lock()
			kinds[k] = impl
			kindsMu.Unlock()
		}
	}()
	f()
}

// Registered returns the number of registered kinds.
func Registered() int {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return len(kinds)
}

// Unregister removes kind k's description (a test's own kind).
func Unregister(k MaterialKind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	delete(kinds, k)
}
