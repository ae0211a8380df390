// Waiters: callers queued FIFO across keys, and the dispatch of freed slots to the oldest that may use one.

package pool

import (
	"context"
	"time"
)

// grant is what a waiter receives: a conn handed over by Release (e), or
// an error, or else the slots to dial a new conn, after closing victim (an
// idle conn evicted to make room) when there is one.
type grant struct {
	e        *Entry
	victim   *Entry
	drainGen uint64 // k's drain generation when the slots were reserved
	err      error
}

func (g grant) dial() bool { return g.e == nil && g.err == nil }

// waiter is a caller queued for a conn of one key. It sits in its key's
// FIFO queue and in the pool-wide queue, in arrival order.
type waiter struct {
	k      *Key
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

func (l *waitList) pushBack(w *waiter, get func(*waiter) *waitLinks) {
	lk := get(w)
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

func keyWait(w *waiter) *waitLinks    { return &w.h }
func globalWait(w *waiter) *waitLinks { return &w.g }

// mayWaitLocked reports, as an error, why a caller that found no free slot
// may not wait for one.
func (p *Pool) mayWaitLocked(k *Key) error {
	if p.cfg.AcquireTimeout < 0 {
		return p.errs.Full
	}
	if p.cfg.MaxPending > 0 && k.waiters.n >= p.cfg.MaxPending {
		return p.errs.TooManyWaiting
	}
	return nil
}

// newWaiter is Pool.spare's New. Each pool recycles its own waiters: a
// waiter's channel must not pass between pools, for a pool made inside a
// testing/synctest bubble may use channels of that bubble only.
func newWaiter() any { return &waiter{ch: make(chan grant, 1)} }

func (p *Pool) enqueueLocked(k *Key, fresh bool) *waiter {
	p.wakeLocked(k) // it may be lingering: a waiter makes it busy
	w := p.spare.Get().(*waiter)
	p.waitSeq++
	w.k, w.seq, w.queued, w.fresh = k, p.waitSeq, true, fresh
	k.waiters.pushBack(w, keyWait)
	p.waiters.pushBack(w, globalWait)
	if k.waiters.n == 1 {
		p.mayDialLocked(k)
	}
	return w
}

func (p *Pool) dequeueLocked(w *waiter) {
	k := w.k
	k.waiters.remove(w, keyWait)
	p.waiters.remove(w, globalWait)
	w.queued = false
	if k.waiters.n == 0 && k.readyIdx >= 0 {
		p.ready.remove(k)
	}
}

// mayDialLocked notes that k's waiters may be able to dial now: a slot of
// k was freed, an idle conn of k appeared (a retry may replace it), or
// k's first waiter arrived. dispatchLocked decides.
func (p *Pool) mayDialLocked(k *Key) {
	if k.waiters.n > 0 && k.readyIdx < 0 {
		p.ready.push(k, k.waiters.head.seq)
	}
}

// dispatchLocked lets waiters, oldest first, dial in slots that are free
// now. Where MaxTotal requires it, an idle conn of another key is evicted:
// the waiter closes it before dialing, so the new conn never overlaps it.
//
// Only keys that may dial are looked at, in the order of their oldest
// waiter: a key is taken off that queue when its own cap blocks it, and
// put back (mayDialLocked) when one of its slots frees. So the cost does
// not grow with the callers waiting for other, busy keys.
func (p *Pool) dispatchLocked() {
	for p.ready.len() > 0 {
		if p.cfg.MaxTotal > 0 && p.total >= p.cfg.MaxTotal && p.idle.n == 0 {
			return // no waiter of any key can dial
		}
		k := p.ready.min()
		w := k.waiters.head
		if w.seq != k.readyKey {
			p.ready.rekey(k, w.seq) // its oldest waiter left or was served
			continue
		}
		ok, victim := p.roomLocked(k, w.fresh)
		if !ok {
			p.ready.remove(k) // blocked by MaxPerKey, not by the total
			continue
		}
		gen := p.reserveLocked(k, victim)
		p.dequeueLocked(w)
		w.ch <- grant{victim: victim, drainGen: gen}
	}
}

// keyQueue is a min-heap of keys by the arrival of their oldest waiter:
// the keys whose waiters may be able to dial.
type keyQueue struct{ h []*Key }

func (q *keyQueue) len() int           { return len(q.h) }
func (q *keyQueue) min() *Key          { return q.h[0] }
func (q *keyQueue) less(i, j int) bool { return q.h[i].readyKey < q.h[j].readyKey }
func (q *keyQueue) swap(i, j int) {
	q.h[i], q.h[j] = q.h[j], q.h[i]
	q.h[i].readyIdx, q.h[j].readyIdx = i, j
}

func (q *keyQueue) push(k *Key, key uint64) {
	k.readyKey, k.readyIdx = key, len(q.h)
	q.h = append(q.h, k)
	q.up(k.readyIdx)
}

func (q *keyQueue) remove(k *Key) {
	i, last := k.readyIdx, len(q.h)-1
	if i != last {
		q.swap(i, last)
	}
	q.h[last] = nil
	q.h = q.h[:last]
	k.readyIdx = -1
	if i != last {
		q.down(i)
		q.up(i)
	}
}

// rekey moves k to key, which is never below its key before: a key's
// oldest waiter only gets younger.
func (q *keyQueue) rekey(k *Key, key uint64) {
	k.readyKey = key
	q.down(k.readyIdx)
}

func (q *keyQueue) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			return
		}
		q.swap(i, parent)
		i = parent
	}
}

func (q *keyQueue) down(i int) {
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
// caller's context ends, or AcquireTimeout passes, or the pool shuts.
func (p *Pool) wait(ctx context.Context, w *waiter) (grant, error) {
	// On every way out the grant (if any) has been taken from w.ch and w
	// is in no queue: nobody can reach w any more.
	defer func() {
		w.k = nil
		p.spare.Put(w) // its channel is empty, no queue holds it
	}()
	done := ctx.Done()
	if done == nil && p.cfg.AcquireTimeout <= 0 {
		// Nothing but a grant can end the wait: a plain receive is
		// cheaper than a select (a crawler waits once per request).
		g := <-w.ch
		return g, g.err
	}
	var timeout <-chan time.Time
	if p.cfg.AcquireTimeout > 0 {
		t := time.NewTimer(p.cfg.AcquireTimeout)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case g := <-w.ch:
		return g, g.err
	case <-done:
		err = p.errs.Ctx(ctx, "acquire")
	case <-timeout:
		if p.cfg.DialOnTimeout {
			p.mu.Lock()
			g, ok := p.overflowLocked(w)
			p.mu.Unlock()
			if ok {
				return g, nil
			}
		}
		err = p.errs.WaitTimeout()
	}
	p.abandon(w)
	return grant{}, err
}

// abandon takes a waiter that gave up out of its queues; whatever it was
// granted in the meantime goes back to the pool.
func (p *Pool) abandon(w *waiter) {
	p.mu.Lock()
	if w.queued {
		p.dequeueLocked(w)
		p.lingerIfEmptyLocked(w.k)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	g := <-w.ch // granted before we took the lock: the grant is buffered
	switch {
	case g.e != nil:
		if g.e.reused { // counted at the hand-over, but never used
			p.mu.Lock()
			w.k.reused--
			p.reused--
			p.mu.Unlock()
		}
		p.Release(g.e)
	case g.err == nil:
		p.closeOne(g.victim)
		p.unreserve(w.k)
	}
}

// Waiting returns the number of callers waiting, across keys.
func (p *Pool) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiters.n
}
