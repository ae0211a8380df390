// Stats: a snapshot of the pool, in total and per host.

package asynchttp

import "time"

// HostStats is the state of the connections to one host.
type HostStats struct {
	Open    int // Dialing + InUse + Idle
	Dialing int // being dialed (TCP connect and TLS handshake)
	InUse   int // carrying a request or its response
	Idle    int // kept for reuse
	Waiting int // callers waiting for a connection to this host

	// Counters since the host entered the pool. A host with no connection
	// and no waiter stays for IdleTimeout (90 s by default; after Close,
	// for good), up to 256 such hosts, the least recently emptied going
	// first; then it is dropped with its counters. The totals in Stats
	// keep counting.
	Created uint64 // connections dialed successfully
	Reused  uint64 // requests sent on a connection that had served before
	Closed  uint64 // connections closed
	// ClosedBy counts closed connections by reason.
	ClosedBy map[CloseReason]uint64

	// Waits is the number of callers that had to wait for a connection
	// (a cap was reached) and got one; WaitTime is their total wait and
	// MaxWait the longest.
	Waits    uint64
	WaitTime time.Duration
	MaxWait  time.Duration

	// OldestConn and MeanConnAge are the age of the oldest open (dialed)
	// connection and the mean age of the open connections, at the time of
	// the snapshot. Zero when none is open.
	OldestConn  time.Duration
	MeanConnAge time.Duration
}

// Stats is a snapshot of a Client's pool. The embedded HostStats holds
// the totals over all hosts; its counters count since New.
type Stats struct {
	HostStats
	Hosts map[string]HostStats // keyed by "scheme://host:port"
	// EventPanics counts panics recovered from Config.Events callbacks.
	EventPanics uint64
}

// Stats returns a snapshot of the pool. It takes the pool's lock briefly
// and allocates the maps it returns.
func (c *Client) Stats() Stats {
	p := &c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	s := Stats{Hosts: make(map[string]HostStats, len(p.hosts))}
	var ageSum time.Duration
	var aged int
	for key, hp := range p.hosts {
		h := HostStats{
			Open:     hp.open(),
			Dialing:  hp.dialing,
			InUse:    hp.inUse,
			Idle:     hp.idle.n,
			Waiting:  hp.waiters.n,
			Created:  hp.created,
			Reused:   hp.reused,
			Closed:   hp.closed,
			ClosedBy: reasonMap(&hp.reasons),
			Waits:    hp.waits,
			WaitTime: hp.waitTime,
			MaxWait:  hp.maxWait,
		}
		var sum time.Duration
		n := 0
		for c := hp.conns.head; c != nil; c = c.alink.next {
			age := now.Sub(c.createdAt)
			h.OldestConn = max(h.OldestConn, age)
			sum += age
			n++
		}
		if n > 0 {
			h.MeanConnAge = sum / time.Duration(n)
		}
		ageSum += sum
		aged += n
		s.OldestConn = max(s.OldestConn, h.OldestConn)
		s.Hosts[key] = h
		s.Dialing += h.Dialing
		s.InUse += h.InUse
		s.Idle += h.Idle
		s.Waiting += h.Waiting
	}
	if aged > 0 {
		s.MeanConnAge = ageSum / time.Duration(aged)
	}
	s.Open = p.total
	s.Created, s.Reused, s.Closed = p.created, p.reused, p.nclosed
	s.ClosedBy = reasonMap(&p.reasons)
	s.Waits, s.WaitTime, s.MaxWait = p.waits, p.waitTime, p.maxWait
	s.EventPanics = p.eventPanics.Load()
	return s
}

func reasonMap(r *[numCloseReasons]uint64) map[CloseReason]uint64 {
	m := make(map[CloseReason]uint64)
	for i, n := range r {
		if n > 0 {
			m[CloseReason(i)] = n
		}
	}
	return m
}

// checkInvariants verifies the pool's accounting: for every host, open =
// dialing + in use + idle and the idle deque matches its count; the total
// semaphore equals the sum over hosts; the pool-wide idle list holds each
// idle conn once. It returns a description of the first breach, or "".
// Tests call it after every pool test.
func (p *pool) checkInvariants() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum, idle := 0, 0
	for key, hp := range p.hosts {
		if hp.key != key {
			return "host " + key + " stored under another key"
		}
		if hp.dialing < 0 || hp.inUse < 0 || hp.idle.n < 0 || hp.waiters.n < 0 {
			return "host " + key + ": negative count"
		}
		n := 0
		for c := hp.idle.head; c != nil; c = c.hlink.next {
			if c.hp != hp || c.state != stateIdle {
				return "host " + key + ": foreign or non-idle conn in idle deque"
			}
			n++
		}
		if n != hp.idle.n {
			return "host " + key + ": idle deque length differs from its count"
		}
		all := 0
		for c := hp.conns.head; c != nil; c = c.alink.next {
			if c.hp != hp || c.state == stateClosed {
				return "host " + key + ": foreign or closed conn in the open list"
			}
			all++
		}
		if all != hp.inUse+hp.idle.n || all != hp.conns.n {
			return "host " + key + ": open list differs from in use + idle"
		}
		if p.lim.maxPerHost > 0 && hp.open() > p.lim.maxPerHost {
			return "host " + key + ": over MaxConnsPerHost"
		}
		if (hp.open() == 0 && hp.waiters.n == 0) != hp.lingering {
			return "host " + key + ": empty host not lingering, or a lingering host in use"
		}
		if hp.waiters.n > 0 && hp.readyIdx < 0 {
			// Out of the dispatch queue: only its own cap may hold it.
			w := hp.waiters.head
			if p.lim.maxPerHost == 0 || hp.open() < p.lim.maxPerHost || (w.fresh && hp.idle.n > 0) {
				return "host " + key + ": waiters that may dial are out of the dispatch queue"
			}
		}
		sum += hp.open()
		idle += n
	}
	if sum != p.total {
		return "total semaphore differs from the sum over hosts"
	}
	if p.lim.maxTotal > 0 && p.total > p.lim.maxTotal {
		return "over MaxTotalConns"
	}
	n := 0
	for c := p.idle.head; c != nil; c = c.glink.next {
		n++
	}
	if n != idle || n != p.idle.n {
		return "pool-wide idle list differs from the hosts' idle deques"
	}
	w := 0
	for x := p.waiters.head; x != nil; x = x.g.next {
		w++
	}
	if w != p.waiters.n {
		return "waiter list length differs from its count"
	}
	n = 0
	for hp := p.empty.head; hp != nil; hp = hp.enext {
		if !hp.lingering || p.hosts[hp.key] != hp {
			return "lingering list: host not lingering or not in the map"
		}
		n++
	}
	if n != p.empty.n || n > maxEmptyHosts {
		return "lingering list length differs from its count, or over its cap"
	}
	for i, hp := range p.ready.h {
		switch {
		case hp.readyIdx != i:
			return "dispatch queue: host with a wrong index"
		case p.hosts[hp.key] != hp || hp.waiters.n == 0:
			return "dispatch queue: host without waiters, or not in the map"
		case hp.readyKey > hp.waiters.head.seq:
			return "dispatch queue: key younger than the host's oldest waiter"
		case i > 0 && p.ready.less(i, (i-1)/2):
			return "dispatch queue: heap order broken"
		}
	}
	if p.ready.len() > 0 && !(p.lim.maxTotal > 0 && p.total >= p.lim.maxTotal && p.idle.n == 0) {
		// dispatchLocked runs after every change that frees a slot; what
		// it leaves queued must be blocked by the total cap.
		return "a waiter that may dial was left waiting"
	}
	return ""
}
