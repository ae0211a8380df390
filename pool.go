// The host-keyed pool: acquire, release, close, and the accounting of
// connection slots that ties them together.

package asynchttp

import (
	"context"
	"sync"
	"time"
)

// CloseReason says why the pool closed a connection.
type CloseReason uint8

// The reasons a connection is closed, counted in Stats.
const (
	CloseIdleTimeout  CloseReason = iota // idle longer than IdleTimeout
	CloseLifetime                        // older than MaxConnLifetime
	CloseServerClosed                    // found closed by the server (or with unsolicited bytes) before reuse
	CloseEvicted                         // idle, closed to make room under MaxTotalConns for another host
	CloseIdleCap                         // offered back over MaxIdleConnsPerHost
	CloseNotReusable                     // Connection: close, HTTP/1.0, or a close-delimited body
	CloseError                           // a protocol or network error, or a body abandoned unread
	CloseCanceled                        // the caller's context ended during the exchange
	CloseIdleClosed                      // CloseIdleConnections
	CloseClientClosed                    // Client.Close
	numCloseReasons
)

var closeReasonNames = [numCloseReasons]string{
	"idle timeout", "lifetime", "server closed", "evicted", "idle cap",
	"not reusable", "error", "canceled", "idle closed", "client closed",
}

func (r CloseReason) String() string {
	if r < numCloseReasons {
		return closeReasonNames[r]
	}
	return "unknown"
}

// hostPool is the state of one host key. It exists while the host has an
// open connection or a waiter, and is dropped from the map after that.
type hostPool struct {
	key        string // scheme://host:port
	addr       string // host:port to dial
	tls        bool
	serverName string

	dialing, inUse int
	idle           idleList
	waiters        waitList

	created, reused, closed uint64
}

func (hp *hostPool) open() int { return hp.dialing + hp.inUse + hp.idle.n }

// pool is the Client's connection pool. One mutex guards all of it; it is
// never held across I/O.
type pool struct {
	c   *Client
	lim limits

	mu      sync.Mutex
	hosts   map[string]*hostPool
	total   int      // open conns across hosts: the MaxTotalConns semaphore
	idle    idleList // every idle conn, least recently used first
	waiters waitList // every waiter, in arrival order
	closed  bool

	created, reused, nclosed uint64
	reasons                  [numCloseReasons]uint64
}

func (p *pool) init(c *Client) {
	p.c = c
	p.lim = c.cfg.limits()
	p.hosts = make(map[string]*hostPool)
}

// hostLocked returns the host pool of req's key, making it if needed.
func (p *pool) hostLocked(req *Request) *hostPool {
	key := req.hostKey()
	if hp := p.hosts[string(key)]; hp != nil {
		return hp
	}
	hp := &hostPool{
		key:        string(key),
		addr:       req.dialAddr(),
		tls:        req.isTLS(),
		serverName: req.serverName(),
	}
	p.hosts[hp.key] = hp
	return hp
}

// dropIfEmptyLocked forgets a host that has no conn and no waiter, so a
// crawler's map does not grow with every host it ever touched.
func (p *pool) dropIfEmptyLocked(hp *hostPool) {
	if hp.open() == 0 && hp.waiters.n == 0 && p.hosts[hp.key] == hp {
		delete(p.hosts, hp.key)
	}
}

// acquire returns a conn to req's host, in use by the caller: an idle one
// that is still fresh, a new one dialed in a slot reserved for it, or one
// handed over by release while the caller waited. fresh skips idle conns
// (a retry wants a new connection).
func (p *pool) acquire(ctx context.Context, req *Request, fresh bool) (*conn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClientClosed
		}
		hp := p.hostLocked(req)
		var stale []*conn
		if !fresh {
			if c := p.takeIdleLocked(hp, time.Now(), &stale); c != nil {
				p.dispatchLocked()
				p.mu.Unlock()
				closeAll(stale)
				if !c.alive() {
					p.mu.Lock()
					hp.reused-- // counted by takeIdleLocked, but not reused after all
					p.reused--
					p.mu.Unlock()
					c.reused = false
					p.closeConn(c, CloseServerClosed)
					continue
				}
				return c, nil
			}
		}
		// Join the queue behind earlier waiters rather than overtake them.
		if hp.waiters.n == 0 {
			if ok, victim := p.roomLocked(hp, fresh); ok {
				p.reserveLocked(hp, victim)
				p.dispatchLocked()
				p.mu.Unlock()
				closeAll(stale)
				closeOne(victim)
				return p.dial(ctx, hp)
			}
		}
		if err := p.mayWaitLocked(hp); err != nil {
			p.dropIfEmptyLocked(hp)
			p.dispatchLocked()
			p.mu.Unlock()
			closeAll(stale)
			return nil, err
		}
		w := p.enqueueLocked(hp)
		p.dispatchLocked()
		p.mu.Unlock()
		closeAll(stale)
		g, err := p.wait(ctx, w)
		if err != nil {
			return nil, err
		}
		if !g.dial() {
			return g.c, nil // handed over by release: it just served a response
		}
		closeOne(g.victim)
		return p.dial(ctx, hp)
	}
}

// roomLocked reports whether hp may open one more conn now and, when that
// needs an idle conn closed first, which one.
func (p *pool) roomLocked(hp *hostPool, fresh bool) (bool, *conn) {
	var victim *conn
	if p.lim.maxPerHost > 0 && hp.open() >= p.lim.maxPerHost {
		if !fresh || hp.idle.n == 0 {
			return false, nil
		}
		victim = hp.idle.head // a retry replaces the host's oldest idle conn
	}
	if p.lim.maxTotal > 0 && p.total >= p.lim.maxTotal && victim == nil {
		if p.idle.n == 0 {
			return false, nil
		}
		// Idle conns never starve a busy host: close the least recently
		// used idle conn of any host.
		victim = p.idle.head
	}
	return true, victim
}

// reserveLocked takes the slots of one dialing conn of hp, retiring victim
// (an idle conn) first when there is one.
func (p *pool) reserveLocked(hp *hostPool, victim *conn) {
	if victim != nil {
		p.retireIdleLocked(victim, CloseEvicted)
	}
	hp.dialing++
	p.total++
}

// unreserve gives back the slots of a dial that failed.
func (p *pool) unreserve(hp *hostPool) {
	p.mu.Lock()
	hp.dialing--
	p.total--
	p.dispatchLocked()
	p.dropIfEmptyLocked(hp)
	p.mu.Unlock()
}

// forgetLocked removes an in-use conn from the accounting: its slots are
// free from now on. The caller closes the socket.
func (p *pool) forgetLocked(c *conn, why CloseReason) {
	hp := c.hp
	hp.inUse--
	hp.closed++
	p.total--
	p.nclosed++
	p.reasons[why]++
	c.state = stateClosed
	p.dropIfEmptyLocked(hp)
}

// closeConn closes an in-use conn and gives its slots to waiters.
func (p *pool) closeConn(c *conn, why CloseReason) {
	p.mu.Lock()
	p.forgetLocked(c, why)
	p.dispatchLocked()
	p.mu.Unlock()
	c.nc.Close()
}

// release takes back an in-use conn whose response is complete and which
// may be reused: it goes to the oldest waiter of its host, or to the idle
// deque when the host is under MaxIdleConnsPerHost, or it is closed.
func (p *pool) release(c *conn) {
	now := time.Now()
	p.mu.Lock()
	hp := c.hp
	why := CloseReason(numCloseReasons)
	switch {
	case p.closed:
		why = CloseClientClosed
	case p.lim.lifetime > 0 && now.Sub(c.createdAt) >= p.lim.lifetime:
		why = CloseLifetime
	case hp.waiters.n > 0:
		w := hp.waiters.head
		p.dequeueLocked(w)
		hp.reused++
		p.reused++
		c.reused = true
		w.ch <- grant{c: c}
		p.mu.Unlock()
		return
	case hp.idle.n >= p.lim.maxIdle:
		why = CloseIdleCap
	}
	if why != numCloseReasons {
		p.forgetLocked(c, why)
		p.dispatchLocked()
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.pushIdleLocked(c, now)
	// A waiter of another host blocked by MaxTotalConns may now evict it.
	p.dispatchLocked()
	p.mu.Unlock()
}

// closeIdle closes every idle conn.
func (p *pool) closeIdle() {
	p.mu.Lock()
	var stale []*conn
	for p.idle.head != nil {
		c := p.idle.head
		p.retireIdleLocked(c, CloseIdleClosed)
		stale = append(stale, c)
	}
	p.dispatchLocked()
	p.mu.Unlock()
	closeAll(stale)
}

// close shuts the pool: waiters fail with ErrClientClosed, idle conns are
// closed now, and conns in use are closed when released.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	for w := p.waiters.head; w != nil; w = p.waiters.head {
		p.dequeueLocked(w)
		w.ch <- grant{err: ErrClientClosed}
	}
	var stale []*conn
	for p.idle.head != nil {
		c := p.idle.head
		p.retireIdleLocked(c, CloseClientClosed)
		stale = append(stale, c)
	}
	p.mu.Unlock()
	closeAll(stale)
}

func closeOne(c *conn) {
	if c != nil {
		c.nc.Close()
	}
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		c.nc.Close()
	}
}
