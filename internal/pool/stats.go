// Stats per key and in total, and the invariants that tie the pool's accounting together.

package pool

import "time"

// KeyStats is the state of one key's conns, or of all of them.
type KeyStats struct {
	Open, Dialing, InUse, Idle, Waiting int
	Created, Reused, Closed             uint64
	ClosedBy                            [NumReasons]uint64
	Waits                               uint64
	WaitTime, MaxWait                   time.Duration
	Overflows                           uint64        // dials past the key's cap after AcquireTimeout
	Max                                 int           // the key's cap on open conns; 0: none (totals: 0)
	OldestConn, MeanConnAge             time.Duration // of the open (dialed) conns, at the snapshot
}

// Stats calls each, under the pool's lock, with the stats of every key
// known, and returns the totals (whose counters count since New) and the
// panics recovered from event callbacks.
func (p *Pool) Stats(each func(key string, s *KeyStats)) (total KeyStats, eventPanics uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var ageSum time.Duration
	var aged int
	for name, k := range p.keys {
		s := KeyStats{
			Open:     k.open(),
			Dialing:  k.dialing,
			InUse:    k.inUse,
			Idle:     k.idle.n,
			Waiting:  k.waiters.n,
			Created:  k.created,
			Reused:   k.reused,
			Closed:   k.nclosed,
			ClosedBy: k.reasons,
			Waits:    k.waits,
			WaitTime: k.waitTime,
			MaxWait:  k.maxWait,

			Overflows: k.overflows,
			Max:       p.capLocked(k),
		}
		var sum time.Duration
		n := 0
		for e := k.conns.head; e != nil; e = e.a.next {
			age := now.Sub(e.createdAt)
			s.OldestConn = max(s.OldestConn, age)
			sum += age
			n++
		}
		if n > 0 {
			s.MeanConnAge = sum / time.Duration(n)
		}
		ageSum += sum
		aged += n
		total.OldestConn = max(total.OldestConn, s.OldestConn)
		total.Dialing += s.Dialing
		total.InUse += s.InUse
		total.Idle += s.Idle
		total.Waiting += s.Waiting
		if each != nil {
			each(name, &s)
		}
	}
	if aged > 0 {
		total.MeanConnAge = ageSum / time.Duration(aged)
	}
	total.Open = p.total
	total.Created, total.Reused, total.Closed = p.created, p.reused, p.nclosed
	total.ClosedBy = p.reasons
	total.Waits, total.WaitTime, total.MaxWait = p.waits, p.waitTime, p.maxWait
	total.Overflows = p.overflows
	return total, p.eventPanics.Load()
}

// CheckInvariants verifies the pool's accounting: for every key, open =
// dialing + in use + idle and the idle deque matches its count; the total
// semaphore equals the sum over keys; the pool-wide idle list holds each
// idle conn once; lingering and dispatch queues are consistent. It returns
// a description of the first breach, or "". Tests call it after every
// pool test.
func (p *Pool) CheckInvariants() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum, idle := 0, 0
	for name, k := range p.keys {
		if k.name != name {
			return "key " + name + " stored under another name"
		}
		if k.dialing < 0 || k.inUse < 0 || k.idle.n < 0 || k.waiters.n < 0 {
			return "key " + name + ": negative count"
		}
		n := 0
		for e := k.idle.head; e != nil; e = e.h.next {
			if e.key != k || e.state != stateIdle {
				return "key " + name + ": foreign or non-idle conn in idle deque"
			}
			n++
		}
		if n != k.idle.n {
			return "key " + name + ": idle deque length differs from its count"
		}
		all := 0
		for e := k.conns.head; e != nil; e = e.a.next {
			if e.key != k || e.state == stateClosed {
				return "key " + name + ": foreign or closed conn in the open list"
			}
			all++
		}
		if all != k.inUse+k.idle.n || all != k.conns.n {
			return "key " + name + ": open list differs from in use + idle"
		}
		if k.overCapLocked(p) && !k.lowered && !p.cfg.DialOnTimeout {
			return "key " + name + ": over its cap"
		}
		if (k.open() == 0 && k.waiters.n == 0) != k.lingering {
			return "key " + name + ": empty key not lingering, or a lingering key in use"
		}
		if k.waiters.n > 0 && k.readyIdx < 0 {
			// Out of the dispatch queue: only its own cap may hold it.
			w := k.waiters.head
			if m := p.capLocked(k); m == 0 || k.open() < m || (w.fresh && k.idle.n > 0) {
				return "key " + name + ": waiters that may dial are out of the dispatch queue"
			}
		}
		sum += k.open()
		idle += n
	}
	if sum != p.total {
		return "total semaphore differs from the sum over keys"
	}
	if p.cfg.MaxIdleTotal > 0 && p.idle.n > p.cfg.MaxIdleTotal {
		return "over MaxIdleTotal"
	}
	if p.cfg.MaxTotal > 0 && p.total > p.cfg.MaxTotal {
		return "over MaxTotal"
	}
	n := 0
	for e := p.idle.head; e != nil; e = e.g.next {
		n++
	}
	if n != idle || n != p.idle.n {
		return "pool-wide idle list differs from the keys' idle deques"
	}
	w := 0
	for x := p.waiters.head; x != nil; x = x.g.next {
		w++
	}
	if w != p.waiters.n {
		return "waiter list length differs from its count"
	}
	n = 0
	for k := p.empty.head; k != nil; k = k.enext {
		if !k.lingering || p.keys[k.name] != k {
			return "lingering list: key not lingering or not in the map"
		}
		n++
	}
	if n != p.empty.n || n > p.cfg.MaxLingering {
		return "lingering list length differs from its count, or over its cap"
	}
	for i, k := range p.ready.h {
		switch {
		case k.readyIdx != i:
			return "dispatch queue: key with a wrong index"
		case p.keys[k.name] != k || k.waiters.n == 0:
			return "dispatch queue: key without waiters, or not in the map"
		case k.readyKey > k.waiters.head.seq:
			return "dispatch queue: index younger than the key's oldest waiter"
		case i > 0 && p.ready.less(i, (i-1)/2):
			return "dispatch queue: heap order broken"
		}
	}
	if p.ready.len() > 0 && !(p.cfg.MaxTotal > 0 && p.total >= p.cfg.MaxTotal && p.idle.n == 0) {
		// dispatchLocked runs after every change that frees a slot; what
		// it leaves queued must be blocked by the total cap.
		return "a waiter that may dial was left waiting"
	}
	return ""
}

// ForEachConn calls f, under the pool's lock, with every open (dialed)
// conn and whether it is idle; f must not call the pool. For tests and
// diagnostics.
func (p *Pool) ForEachConn(f func(c Conn, idle bool)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		for e := k.conns.head; e != nil; e = e.a.next {
			f(e.conn, e.state == stateIdle)
		}
	}
}
