// Taking conns out of the pool: close, detach, drain a key, close idle conns, shut down.

package pool

// forgetLocked removes an in-use conn from the accounting: its slots are
// free from now on. The caller closes the socket (or hands it over).
func (p *Pool) forgetLocked(e *Entry, why Reason) {
	k := e.key
	k.inUse--
	k.nclosed++
	k.reasons[why]++
	k.conns.remove(e, allLinks)
	p.total--
	p.nclosed++
	p.reasons[why]++
	e.state = stateClosed
	e.closedBy = why
	p.mayDialLocked(k)
	p.lingerIfEmptyLocked(k)
}

// Detach takes an in-use conn out of the pool without closing it: its
// slots are freed and it counts as closed for why. It reports false when
// the conn was closed already. The caller owns the socket from now on;
// ReportClosed tells Config.Closed, if the caller wants it told.
func (p *Pool) Detach(e *Entry, why Reason) bool {
	p.mu.Lock()
	if e.state == stateClosed {
		p.mu.Unlock()
		return false
	}
	p.forgetLocked(e, why)
	p.dispatchLocked()
	p.mu.Unlock()
	return true
}

// CloseConn closes an in-use conn and gives its slots to waiters. The
// socket is closed first, so that a conn dialed in its slot never
// overlaps it: the key's cap holds for open sockets too.
func (p *Pool) CloseConn(e *Entry, why Reason) {
	e.conn.Close()
	p.mu.Lock()
	p.forgetLocked(e, why)
	p.dispatchLocked()
	p.mu.Unlock()
	p.ReportClosed(e)
}

// Drain closes the idle conns of key now, and marks its conns in use, or
// being dialed, to be closed when released. It reports whether the key
// had a conn or a waiter.
func (p *Pool) Drain(key string) bool {
	p.mu.Lock()
	k := p.keys[key]
	if k == nil || k.lingering {
		p.mu.Unlock()
		return false
	}
	for e := k.conns.head; e != nil; e = e.a.next {
		e.drain.Store(true)
	}
	k.drainGen++
	stale := p.retireAllLocked(&k.idle, Drained)
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeAll(stale)
	return true
}

// CloseIdle closes every idle conn.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	stale := p.retireAllLocked(&p.idle, IdleClosed)
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeAll(stale)
}

// Shutdown shuts the pool: waiters fail with Errors.Closed, dials in
// flight are stopped, idle conns are closed now, and conns in use are
// closed when released.
func (p *Pool) Shutdown() {
	p.mu.Lock()
	p.closed = true
	p.inflight.stop()
	for w := p.waiters.head; w != nil; w = p.waiters.head {
		p.dequeueLocked(w)
		p.lingerIfEmptyLocked(w.k)
		w.ch <- grant{err: p.errs.Closed}
	}
	stale := p.retireAllLocked(&p.idle, PoolClosed)
	p.mu.Unlock()
	p.closeAll(stale)
}
