// The idle connections: a deque per host and one least-recently-used list
// across hosts, both intrusive, and the reaper that retires connections by
// idleness and lifetime.

package asynchttp

import "time"

// idleList is an intrusive doubly linked list of idle conns, oldest first.
// A conn sits in two of them at once: its host's deque (links h) and the
// pool-wide LRU list (links g).
type idleList struct {
	head, tail *conn
	n          int
}

type idleLinks struct{ prev, next *conn }

func (l *idleList) pushBack(c *conn, lk func(*conn) *idleLinks) {
	cl := lk(c)
	cl.prev, cl.next = l.tail, nil
	if l.tail != nil {
		lk(l.tail).next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.n++
}

func (l *idleList) remove(c *conn, lk func(*conn) *idleLinks) {
	cl := lk(c)
	if cl.prev != nil {
		lk(cl.prev).next = cl.next
	} else {
		l.head = cl.next
	}
	if cl.next != nil {
		lk(cl.next).prev = cl.prev
	} else {
		l.tail = cl.prev
	}
	cl.prev, cl.next = nil, nil
	l.n--
}

func hostLinks(c *conn) *idleLinks   { return &c.hlink }
func globalLinks(c *conn) *idleLinks { return &c.glink }
func allLinks(c *conn) *idleLinks    { return &c.alink }

// pushIdleLocked makes an in-use conn idle: newest in its host's deque and
// in the pool-wide LRU list.
func (p *pool) pushIdleLocked(c *conn, now time.Time) {
	hp := c.hp
	c.idleSince = now
	c.state = stateIdle
	hp.inUse--
	hp.idle.pushBack(c, hostLinks)
	p.idle.pushBack(c, globalLinks)
	p.mayDialLocked(hp) // a retry waiting on hp may replace this conn
}

// unlinkIdleLocked takes c out of both idle lists; the caller decides
// whether it becomes in use or closed.
func (p *pool) unlinkIdleLocked(c *conn) {
	c.hp.idle.remove(c, hostLinks)
	p.idle.remove(c, globalLinks)
}

// expiredBy names the reason an idle conn must not be reused at now — past
// its lifetime, or idle longer than IdleTimeout or than the server keeps
// idle connections (Keep-Alive: timeout=N) — or returns numCloseReasons.
func (p *pool) expiredBy(c *conn, now time.Time) CloseReason {
	if !c.retireAt.IsZero() && !now.Before(c.retireAt) {
		return CloseLifetime
	}
	limit := p.lim.idleTimeout
	if c.serverIdle > 0 && (limit == 0 || c.serverIdle < limit) {
		limit = c.serverIdle
	}
	if limit > 0 && now.Sub(c.idleSince) >= limit {
		return CloseIdleTimeout
	}
	return numCloseReasons
}

// takeIdleLocked pops the host's next idle conn in IdleOrder, skipping (and
// retiring into *stale) those past their idle timeout or lifetime. The conn
// returned is in use.
func (p *pool) takeIdleLocked(hp *hostPool, now time.Time, stale *[]*conn) *conn {
	for hp.idle.n > 0 {
		c := hp.idle.tail
		if p.lim.fifo {
			c = hp.idle.head
		}
		if why := p.expiredBy(c, now); why != numCloseReasons {
			p.retireIdleLocked(c, why)
			*stale = append(*stale, c)
			continue
		}
		p.unlinkIdleLocked(c)
		hp.inUse++
		hp.reused++
		p.reused++
		c.state = stateInUse
		c.reused = true
		c.wasIdle, c.idleTime = true, now.Sub(c.idleSince)
		return c
	}
	return nil
}

// retireIdleLocked removes an idle conn from the pool's accounting; the
// caller closes its socket once the lock is released.
func (p *pool) retireIdleLocked(c *conn, why CloseReason) {
	p.unlinkIdleLocked(c)
	c.hp.inUse++ // counted as in use for the moment: forgetLocked takes it off
	c.state = stateInUse
	p.forgetLocked(c, why)
}

// reapPeriod is how often the reaper looks at idle conns: a quarter of the
// shortest of IdleTimeout and MaxConnLifetime, between 5ms and 1s. Acquire
// re-checks both, so the period never matters for correctness.
func (l *limits) reapPeriod() time.Duration {
	d := time.Second
	for _, t := range []time.Duration{l.idleTimeout, l.lifetime} {
		if t > 0 && t/4 < d {
			d = t / 4
		}
	}
	return max(d, 5*time.Millisecond)
}

// reap is the Client's one background goroutine: it retires idle conns
// past IdleTimeout or MaxConnLifetime until the Client is closed.
func (c *Client) reap() {
	defer c.wg.Done()
	t := time.NewTicker(c.pool.lim.reapPeriod())
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			c.pool.reapOnce(now)
		}
	}
}

// reapOnce retires every idle conn expired at now.
func (p *pool) reapOnce(now time.Time) {
	p.mu.Lock()
	var stale []*conn
	for c := p.idle.head; c != nil; {
		next := c.glink.next
		if why := p.expiredBy(c, now); why != numCloseReasons {
			p.retireIdleLocked(c, why)
			stale = append(stale, c)
		}
		c = next
	}
	p.dispatchLocked()
	p.pruneAddrsLocked(now)
	p.pruneHostsLocked(now)
	p.mu.Unlock()
	p.closeAll(stale)
}
