// Defaults, their resolution from Config, and the waiter queues that
// callers join when a connection cap is reached.

package asynchttp

import (
	"context"
	"time"
)

// Defaults selected by zero Config fields.
const (
	// DefaultMaxIdleConnsPerHost is the idle connections kept per host
	// when Config.MaxIdleConnsPerHost is zero.
	DefaultMaxIdleConnsPerHost = 32
	// DefaultIdleTimeout closes connections idle this long when
	// Config.IdleTimeout is zero.
	DefaultIdleTimeout = 90 * time.Second
	// DefaultDialTimeout bounds a TCP connect when Config.DialTimeout is zero.
	DefaultDialTimeout = 30 * time.Second
	// DefaultTLSHandshakeTimeout bounds a TLS handshake when
	// Config.TLSHandshakeTimeout is zero.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultExpectContinueTimeout is how long a request with "Expect:
	// 100-continue" waits for the server's word before sending its body,
	// when Config.ExpectContinueTimeout is zero.
	DefaultExpectContinueTimeout = time.Second
	// DefaultMaxResponseHeaderBytes bounds a response head when
	// Config.MaxResponseHeaderBytes is zero.
	DefaultMaxResponseHeaderBytes = 1 << 20
	// DefaultMaxResponseBodyBytes bounds a body buffered by Do when
	// Config.MaxResponseBodyBytes is zero.
	DefaultMaxResponseBodyBytes = 64 << 20
	// MaxDrainBytes is the most a client reads from a response body that
	// was closed before its end, hoping to reuse the connection; a longer
	// remainder (or one that does not arrive within DrainTimeout) closes
	// the connection instead.
	MaxDrainBytes = 64 << 10
	// DrainTimeout bounds the time spent draining a body closed early.
	DrainTimeout = 50 * time.Millisecond
)

// limits holds the resolved settings: no zero-means-default left.
type limits struct {
	maxTotal, maxPerHost int // 0: no cap
	maxIdle              int // 0: keep none
	maxPending           int // 0: no cap
	acquireTimeout       time.Duration
	idleTimeout          time.Duration // 0: never
	lifetime             time.Duration // 0: forever
	jitter               float64       // fraction of lifetime, [0, 1]
	maxRequests          int           // per conn; 0: no limit
	fifo                 bool
	dialTimeout          time.Duration // 0: none
	tlsTimeout           time.Duration // 0: none
	headerTimeout        time.Duration // 0: none
	expectTimeout        time.Duration // 0: send the body without waiting
	addrTTL              time.Duration
	addrCooldown         time.Duration
	maxHeader            int
	maxBody              int64         // buffered bodies; 0: no cap
	maxStreamBody        int64         // streamed bodies; 0: no cap
	peekAfter            time.Duration // idle conns are checked before reuse after this long
}

func (c *Config) limits() limits {
	l := limits{
		maxTotal:       max(c.MaxTotalConns, 0),
		maxPerHost:     max(c.MaxConnsPerHost, 0),
		maxPending:     max(c.MaxPendingPerHost, 0),
		acquireTimeout: c.AcquireTimeout,
		lifetime:       max(c.MaxConnLifetime, 0),
		jitter:         min(max(c.LifetimeJitter, 0), 1),
		maxRequests:    max(c.MaxRequestsPerConn, 0),
		fifo:           c.IdleOrder == FIFO,
		headerTimeout:  max(c.ResponseHeaderTimeout, 0),
		peekAfter:      defaultPeekAfterIdle,
	}
	switch {
	case c.MaxIdleConnsPerHost > 0:
		l.maxIdle = c.MaxIdleConnsPerHost
	case c.MaxIdleConnsPerHost == 0:
		l.maxIdle = DefaultMaxIdleConnsPerHost
	}
	l.idleTimeout = orDefault(c.IdleTimeout, DefaultIdleTimeout)
	l.dialTimeout = orDefault(c.DialTimeout, DefaultDialTimeout)
	l.tlsTimeout = orDefault(c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	l.expectTimeout = orDefault(c.ExpectContinueTimeout, DefaultExpectContinueTimeout)
	l.addrTTL = orDefault(c.AddrTTL, DefaultAddrTTL)
	l.addrCooldown = orDefault(c.AddrCooldown, DefaultAddrCooldown)
	l.maxHeader = c.MaxResponseHeaderBytes
	if l.maxHeader <= 0 {
		l.maxHeader = DefaultMaxResponseHeaderBytes
	}
	switch {
	case c.MaxResponseBodyBytes > 0:
		l.maxBody, l.maxStreamBody = c.MaxResponseBodyBytes, c.MaxResponseBodyBytes
	case c.MaxResponseBodyBytes == 0:
		l.maxBody = DefaultMaxResponseBodyBytes
	}
	return l
}

// orDefault resolves a duration field: zero selects def, negative none.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// grant is what a waiter receives: a conn handed over by release (c), or
// an error, or else the slots to dial a new conn, after closing victim (an
// idle conn evicted to make room) when there is one.
type grant struct {
	c        *conn
	victim   *conn
	drainGen uint64 // hp's drain generation when the slots were reserved
	err      error
}

func (g grant) dial() bool { return g.c == nil && g.err == nil }

// waiter is a caller queued for a conn to one host. It sits in its host's
// FIFO queue and in the pool-wide queue, in arrival order.
type waiter struct {
	hp     *hostPool
	ch     chan grant // buffered: a grant never blocks the granter
	seq    uint64     // arrival order, pool-wide
	queued bool
	fresh  bool // a retry: it wants a new conn, never a handed-over one
	h, g   waitLinks
}

type waitLinks struct{ prev, next *waiter }

// waitList is an intrusive FIFO of waiters.
type waitList struct {
	head, tail *waiter
	n          int
}

func (l *waitList) pushBack(w *waiter, lk *waitLinks, get func(*waiter) *waitLinks) {
	lk.prev, lk.next = l.tail, nil
	if l.tail != nil {
		get(l.tail).next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *waitList) remove(w *waiter, get func(*waiter) *waitLinks) {
	lk := get(w)
	if lk.prev != nil {
		get(lk.prev).next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != nil {
		get(lk.next).prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	lk.prev, lk.next = nil, nil
	l.n--
}

func hostWait(w *waiter) *waitLinks   { return &w.h }
func globalWait(w *waiter) *waitLinks { return &w.g }

// mayWaitLocked reports, as an error, why a caller that found no free slot
// may not wait for one.
func (p *pool) mayWaitLocked(hp *hostPool) error {
	if p.lim.acquireTimeout < 0 {
		return ErrTooManyConns
	}
	if p.lim.maxPending > 0 && hp.waiters.n >= p.lim.maxPending {
		return ErrTooManyPending
	}
	return nil
}

// newWaiter is pool.spare's New. Each Client recycles its own waiters: a
// waiter's channel must not pass between clients, for a client made
// inside a testing/synctest bubble may use channels of that bubble only.
func newWaiter() any { return &waiter{ch: make(chan grant, 1)} }

func (p *pool) enqueueLocked(hp *hostPool, fresh bool) *waiter {
	p.wakeLocked(hp) // it may be lingering: a waiter makes it busy
	w := p.spare.Get().(*waiter)
	p.waitSeq++
	w.hp, w.seq, w.queued, w.fresh = hp, p.waitSeq, true, fresh
	hp.waiters.pushBack(w, &w.h, hostWait)
	p.waiters.pushBack(w, &w.g, globalWait)
	if hp.waiters.n == 1 {
		p.mayDialLocked(hp)
	}
	return w
}

func (p *pool) dequeueLocked(w *waiter) {
	hp := w.hp
	hp.waiters.remove(w, hostWait)
	p.waiters.remove(w, globalWait)
	w.queued = false
	if hp.waiters.n == 0 && hp.readyIdx >= 0 {
		p.ready.remove(hp)
	}
}

// mayDialLocked notes that hp's waiters may be able to dial now: a slot of
// hp was freed, an idle conn of hp appeared (a retry may replace it), or
// hp's first waiter arrived. dispatchLocked decides.
func (p *pool) mayDialLocked(hp *hostPool) {
	if hp.waiters.n > 0 && hp.readyIdx < 0 {
		p.ready.push(hp, hp.waiters.head.seq)
	}
}

// dispatchLocked lets waiters, oldest first, dial in slots that are free
// now. Where MaxTotalConns requires it, an idle conn of another host is
// evicted: the waiter closes it before dialing, so the new conn never
// overlaps it.
//
// Only hosts that may dial are looked at, in the order of their oldest
// waiter: a host is taken off that queue when its own cap blocks it, and
// put back (mayDialLocked) when one of its slots frees. So the cost does
// not grow with the callers waiting for other, busy hosts.
func (p *pool) dispatchLocked() {
	for p.ready.len() > 0 {
		if p.lim.maxTotal > 0 && p.total >= p.lim.maxTotal && p.idle.n == 0 {
			return // no waiter of any host can dial
		}
		hp := p.ready.min()
		w := hp.waiters.head
		if w.seq != hp.readyKey {
			p.ready.rekey(hp, w.seq) // its oldest waiter left or was served
			continue
		}
		ok, victim := p.roomLocked(hp, w.fresh)
		if !ok {
			p.ready.remove(hp) // blocked by MaxConnsPerHost, not by the total
			continue
		}
		gen := p.reserveLocked(hp, victim)
		p.dequeueLocked(w)
		w.ch <- grant{victim: victim, drainGen: gen}
	}
}

// hostQueue is a min-heap of hosts by the arrival of their oldest waiter:
// the hosts whose waiters may be able to dial.
type hostQueue struct{ h []*hostPool }

func (q *hostQueue) len() int           { return len(q.h) }
func (q *hostQueue) min() *hostPool     { return q.h[0] }
func (q *hostQueue) less(i, j int) bool { return q.h[i].readyKey < q.h[j].readyKey }
func (q *hostQueue) swap(i, j int) {
	q.h[i], q.h[j] = q.h[j], q.h[i]
	q.h[i].readyIdx, q.h[j].readyIdx = i, j
}
func (q *hostQueue) push(hp *hostPool, key uint64) {
	hp.readyKey, hp.readyIdx = key, len(q.h)
	q.h = append(q.h, hp)
	q.up(hp.readyIdx)
}

func (q *hostQueue) remove(hp *hostPool) {
	i, last := hp.readyIdx, len(q.h)-1
	if i != last {
		q.swap(i, last)
	}
	q.h[last] = nil
	q.h = q.h[:last]
	hp.readyIdx = -1
	if i != last {
		q.down(i)
		q.up(i)
	}
}

// rekey moves hp to key, which is never below its key before: a host's
// oldest waiter only gets younger.
func (q *hostQueue) rekey(hp *hostPool, key uint64) {
	hp.readyKey = key
	q.down(hp.readyIdx)
}

func (q *hostQueue) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			return
		}
		q.swap(i, parent)
		i = parent
	}
}

func (q *hostQueue) down(i int) {
	n := len(q.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.swap(i, m)
		i = m
	}
}

// wait blocks until w is granted a conn or the right to dial, or the
// caller's context ends, or AcquireTimeout passes, or the client closes.
func (p *pool) wait(ctx context.Context, w *waiter) (grant, error) {
	// On every way out the grant (if any) has been taken from w.ch and w
	// is in no queue: nobody can reach w any more.
	defer func() {
		w.hp = nil
		p.spare.Put(w) // its channel is empty, no queue holds it
	}()
	done := ctx.Done()
	if done == nil && p.lim.acquireTimeout <= 0 {
		// Nothing but a grant can end the wait: a plain receive is
		// cheaper than a select (a crawler waits once per request).
		g := <-w.ch
		return g, g.err
	}
	var timeout <-chan time.Time
	if p.lim.acquireTimeout > 0 {
		t := time.NewTimer(p.lim.acquireTimeout)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case g := <-w.ch:
		return g, g.err
	case <-done:
		err = ctxErr(ctx, "acquire")
	case <-timeout:
		err = &TimeoutError{Op: "acquire", Err: ErrTooManyConns}
	}
	p.abandon(w)
	return grant{}, err
}

// abandon takes a waiter that gave up out of its queues; whatever it was
// granted in the meantime goes back to the pool.
func (p *pool) abandon(w *waiter) {
	p.mu.Lock()
	if w.queued {
		p.dequeueLocked(w)
		p.lingerIfEmptyLocked(w.hp)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	g := <-w.ch // granted before we took the lock: the grant is buffered
	switch {
	case g.c != nil:
		if g.c.reused { // counted at the hand-over, but never used
			p.mu.Lock()
			w.hp.reused--
			p.reused--
			p.mu.Unlock()
		}
		p.release(g.c)
	case g.err == nil:
		p.closeOne(g.victim)
		p.unreserve(w.hp)
	}
}
