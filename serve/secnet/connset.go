package secnet

import (
	"io"
	"sync"
)

// ConnSet tracks a server's open connections so a shutdown can close the
// ones still open after the grace period. The zero value is ready to use.
type ConnSet struct {
	mu sync.Mutex
	m  map[io.Closer]struct{}
}

// Add records c as open.
func (s *ConnSet) Add(c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[io.Closer]struct{}{}
	}
	s.m[c] = struct{}{}
}

// Remove forgets c (after it has been closed by its handler).
func (s *ConnSet) Remove(c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, c)
}

// CloseAll closes every connection still recorded.
func (s *ConnSet) CloseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.m {
		c.Close()
	}
}
