// Idle conns: per-key deques, the pool-wide LRU list, expiry (idle, Keep-Alive, lifetime) and the reaper pass.

package pool

import "time"

// pushIdleLocked makes an in-use conn idle: newest in its key's deque and
// in the pool-wide LRU list.
func (p *Pool) pushIdleLocked(e *Entry, now time.Time) {
	k := e.key
	e.idleAt = now.Sub(e.createdAt)
	e.state = stateIdle
	k.inUse--
	k.idle.pushBack(e, hostLinks)
	p.idle.pushBack(e, globalLinks)
	p.mayDialLocked(k) // a retry waiting on k may replace this conn
}

// unlinkIdleLocked takes e out of both idle lists; the caller decides
// whether it becomes in use or closed.
func (p *Pool) unlinkIdleLocked(e *Entry) {
	e.key.idle.remove(e, hostLinks)
	p.idle.remove(e, globalLinks)
}

// expiredBy names the reason an idle conn must not be reused at now — past
// its lifetime, or idle longer than IdleTimeout or than the peer keeps
// idle conns (KeepAlive) — or returns NumReasons.
func (p *Pool) expiredBy(e *Entry, now time.Time) Reason {
	if e.retiredAt(now) {
		return Lifetime
	}
	limit := p.cfg.IdleTimeout
	if e.KeepAlive > 0 && (limit == 0 || e.KeepAlive < limit) {
		limit = e.KeepAlive
	}
	if limit > 0 && e.idleFor(now) >= limit {
		return IdleTimeout
	}
	return NumReasons
}

// takeIdleLocked pops the key's next idle conn (LIFO, or FIFO), skipping
// (and retiring into *stale) those past their idle timeout or lifetime.
// The conn returned is in use.
func (p *Pool) takeIdleLocked(k *Key, now time.Time, stale *[]*Entry) *Entry {
	for k.idle.n > 0 {
		e := k.idle.tail
		if p.cfg.FIFO {
			e = k.idle.head
		}
		if why := p.expiredBy(e, now); why != NumReasons {
			p.retireIdleLocked(e, why)
			*stale = append(*stale, e)
			continue
		}
		p.unlinkIdleLocked(e)
		k.inUse++
		k.reused++
		p.reused++
		e.state = stateInUse
		e.reused = true
		e.wasIdle, e.idleTime = true, e.idleFor(now)
		return e
	}
	return nil
}

// retireIdleLocked removes an idle conn from the pool's accounting; the
// caller closes it once the lock is released.
func (p *Pool) retireIdleLocked(e *Entry, why Reason) {
	p.unlinkIdleLocked(e)
	e.key.inUse++ // counted as in use for the moment: forgetLocked takes it off
	e.state = stateInUse
	p.forgetLocked(e, why)
}

// retireAllLocked retires every conn of an idle list (a key's deque or the
// pool-wide one) and returns them, for the caller to close unlocked.
func (p *Pool) retireAllLocked(l *entryList, why Reason) []*Entry {
	var stale []*Entry
	for l.head != nil {
		e := l.head
		p.retireIdleLocked(e, why)
		stale = append(stale, e)
	}
	return stale
}

// ReapPeriod is how often the owner should call ReapOnce: a quarter of the
// shortest of IdleTimeout and Lifetime, between 5ms and 1s. Acquire
// re-checks both, so the period never matters for correctness.
func (p *Pool) ReapPeriod() time.Duration {
	d := time.Second
	for _, t := range []time.Duration{p.cfg.IdleTimeout, p.cfg.Lifetime} {
		if t > 0 && t/4 < d {
			d = t / 4
		}
	}
	return max(d, 5*time.Millisecond)
}

// ReapOnce retires every idle conn expired at now and forgets the keys
// that lingered long enough.
func (p *Pool) ReapOnce(now time.Time) {
	p.mu.Lock()
	var stale []*Entry
	for e := p.idle.head; e != nil; {
		next := e.g.next
		if why := p.expiredBy(e, now); why != NumReasons {
			p.retireIdleLocked(e, why)
			stale = append(stale, e)
		}
		e = next
	}
	p.dispatchLocked()
	p.pruneKeysLocked(now)
	p.mu.Unlock()
	p.closeAll(stale)
}
