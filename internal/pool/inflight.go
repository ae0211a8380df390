// Inflight: the cancel funcs of work in flight (dials, lookups, setups) that Shutdown stops.

package pool

import (
	"context"
	"sync"
)

// Inflight registers the cancel funcs of work in flight for the pool's
// conns — dials, name lookups, setups — so that Shutdown can stop them.
// The pool hands it to whatever dials for it: the dialer registers its
// work here and never calls the pool itself.
type Inflight struct {
	mu     sync.Mutex
	closed bool
	m      map[*context.CancelFunc]struct{}
}

// Track registers cancel; it reports false, registering nothing, once the
// pool is shut.
func (r *Inflight) Track(cancel *context.CancelFunc) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.m == nil {
		r.m = make(map[*context.CancelFunc]struct{})
	}
	r.m[cancel] = struct{}{}
	return true
}

// Untrack forgets a cancel func given to Track.
func (r *Inflight) Untrack(cancel *context.CancelFunc) {
	r.mu.Lock()
	delete(r.m, cancel)
	r.mu.Unlock()
}

// stop cancels everything registered and refuses what comes later.
func (r *Inflight) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for cancel := range r.m {
		(*cancel)()
	}
}
