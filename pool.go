// The host-keyed pool: acquire, release, close, and the accounting of
// connection slots that ties them together.

package asynchttp

import (
	"bufio"
	"context"
	"net"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
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
	CloseMaxRequests                     // served MaxRequestsPerConn requests
	CloseDrained                         // its host was drained (DrainHost)
	CloseUpgraded                        // handed to the caller after 101 Switching Protocols; the socket stays open
	numCloseReasons
)

var closeReasonNames = [numCloseReasons]string{
	"idle timeout", "lifetime", "server closed", "evicted", "idle cap",
	"not reusable", "error", "canceled", "idle closed", "client closed",
	"max requests", "drained", "upgraded",
}

func (r CloseReason) String() string {
	if r < numCloseReasons {
		return closeReasonNames[r]
	}
	return "unknown"
}

// hostPool is the state of one host key. It exists while the host has an
// open connection or a waiter, and lingers after that (see
// lingerIfEmptyLocked) so that its counters stay in Stats a while and a
// host that comes back soon costs no allocation.
type hostPool struct {
	key        string // scheme://host:port, and " via proxy" when proxied
	addr       string // host:port to dial (through the proxy, if any)
	tls        bool
	serverName string
	proxy      *url.URL // nil: direct
	proxyAuth  string   // Proxy-Authorization for plain HTTP proxying

	dialing, inUse int
	idle           idleList
	waiters        waitList
	conns          idleList // every open (dialed) conn, oldest first: for ages in Stats
	drainGen       uint64   // counts DrainHost calls: conns dialing meanwhile are drained too
	addrs          *addrSet // resolved addresses, shared by the hosts of one name
	direct         []string // the one address to dial when there is nothing to resolve
	readyIdx       int      // index in pool.ready, -1 when not there
	readyKey       uint64   // the seq of its oldest waiter when queued in pool.ready
	lingering      bool     // empty, in pool.empty
	emptySince     time.Time
	eprev, enext   *hostPool // pool.empty links

	created, reused, closed uint64
	reasons                 [numCloseReasons]uint64
	waits                   uint64        // callers that had to wait for a conn
	waitTime, maxWait       time.Duration // their total and longest wait
}

func (hp *hostPool) open() int { return hp.dialing + hp.inUse + hp.idle.n }

// pool is the Client's connection pool. One mutex guards all of it; it is
// never held across I/O.
type pool struct {
	c   *Client
	lim limits

	mu      sync.Mutex
	hosts   map[string]*hostPool
	addrs   map[string]*addrSet              // by "host:port"; outlives host pools, pruned by the reaper
	total   int                              // open conns across hosts: the MaxTotalConns semaphore
	idle    idleList                         // every idle conn, least recently used first
	waiters waitList                         // every waiter, in arrival order
	waitSeq uint64                           // the last waiter's seq
	ready   hostQueue                        // hosts whose waiters may dial now
	spare   sync.Pool                        // recycled *waiter (see newWaiter)
	empty   emptyHosts                       // hosts with no conn and no waiter, oldest first
	dials   map[*context.CancelFunc]struct{} // dials in flight, stopped by close
	closed  bool

	created, reused, nclosed uint64
	reasons                  [numCloseReasons]uint64
	eventPanics              atomic.Uint64
	waits                    uint64
	waitTime, maxWait        time.Duration
}

func (p *pool) init(c *Client) {
	p.c = c
	p.lim = c.cfg.limits()
	p.hosts = make(map[string]*hostPool)
	p.spare.New = newWaiter
	p.addrs = make(map[string]*addrSet)
}

// hostLocked returns the host pool of req's key, making it if needed.
func (p *pool) hostLocked(req *Request) *hostPool {
	key := req.hostKey()
	var skey string
	if req.proxy == nil {
		if hp := p.hosts[string(key)]; hp != nil {
			return hp // no allocation on the direct path
		}
		skey = string(key)
	} else {
		skey = string(key) + proxyKey(req.proxy)
		if hp := p.hosts[skey]; hp != nil {
			return hp
		}
	}
	hp := &hostPool{
		key:        skey,
		addr:       req.dialAddr(),
		tls:        req.isTLS(),
		serverName: req.serverName(),
		proxy:      req.proxy,
		readyIdx:   -1,
	}
	if hp.proxy != nil && (hp.proxy.Scheme == "http" || hp.proxy.Scheme == "https") {
		hp.proxyAuth = basicAuth(hp.proxy)
	}
	if host, _, err := net.SplitHostPort(hp.addr); err != nil || net.ParseIP(host) != nil || !p.resolving() {
		hp.direct = []string{hp.addr} // nothing to resolve
	} else {
		hp.addrs = p.addrSetLocked(hp.addr)
	}
	p.hosts[hp.key] = hp
	return hp
}

// Hosts with no conn and no waiter linger in the map, so that their
// counters (close reasons, waits) stay in Stats and a host that comes back
// soon is found again: at most maxEmptyHosts of them, each for at most
// IdleTimeout (DefaultIdleTimeout when idle conns never time out). A
// crawler's map does not grow with every host it ever touched.
const maxEmptyHosts = 256

// emptyHosts is the list of lingering hosts, least recently emptied first.
type emptyHosts struct {
	head, tail *hostPool
	n          int
}

// lingerIfEmptyLocked lets a host that has no conn and no waiter linger (also
// after Close: Stats then still tells why each host's conns closed). The
// oldest lingering host is forgotten when there are too many.
func (p *pool) lingerIfEmptyLocked(hp *hostPool) {
	if hp.open() != 0 || hp.waiters.n != 0 || hp.lingering || p.hosts[hp.key] != hp {
		return
	}
	hp.lingering, hp.emptySince = true, time.Now()
	l := &p.empty
	hp.eprev, hp.enext = l.tail, nil
	if l.tail != nil {
		l.tail.enext = hp
	} else {
		l.head = hp
	}
	l.tail = hp
	l.n++
	if l.n > maxEmptyHosts {
		p.forgetHostLocked(l.head)
	}
}

// wakeLocked takes hp off the lingering list. A host stops being empty
// only by a dial slot (reserveLocked) or a waiter (enqueueLocked): both
// wake it, so it never lingers while in use.
func (p *pool) wakeLocked(hp *hostPool) {
	if !hp.lingering {
		return
	}
	l := &p.empty
	if hp.eprev != nil {
		hp.eprev.enext = hp.enext
	} else {
		l.head = hp.enext
	}
	if hp.enext != nil {
		hp.enext.eprev = hp.eprev
	} else {
		l.tail = hp.eprev
	}
	hp.eprev, hp.enext, hp.lingering = nil, nil, false
	l.n--
}

// forgetHostLocked drops a lingering host from the map; one that is in use
// after all (which wakeLocked should have seen) only leaves the list.
func (p *pool) forgetHostLocked(hp *hostPool) {
	p.wakeLocked(hp)
	if hp.open() == 0 && hp.waiters.n == 0 {
		delete(p.hosts, hp.key)
	}
}

// pruneHostsLocked forgets the hosts that have lingered past their time.
func (p *pool) pruneHostsLocked(now time.Time) {
	ttl := p.lim.idleTimeout
	if ttl <= 0 {
		ttl = DefaultIdleTimeout
	}
	for hp := p.empty.head; hp != nil && now.Sub(hp.emptySince) >= ttl; hp = p.empty.head {
		p.forgetHostLocked(hp)
	}
}

// acquire returns a conn to req's host, in use by the caller: an idle one
// that is still fresh, a new one dialed in a slot reserved for it, or one
// handed over by release while the caller waited. fresh skips idle conns
// (a retry wants a new connection).
func (p *pool) acquire(ctx context.Context, req *Request, fresh bool) (*conn, error) {
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(req.dialAddr())
	}
	c, err := p.acquireConn(ctx, req, fresh)
	if err != nil {
		return nil, err
	}
	if f := p.c.cfg.Events.ConnAcquired; f != nil {
		p.eventHolding(c, func() { f(c.info(), c.reused) })
	}
	if trace != nil && trace.GotConn != nil {
		p.holding(c, func() {
			trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: c.reused, WasIdle: c.wasIdle, IdleTime: c.idleTime})
		})
	}
	return c, nil
}

func (p *pool) acquireConn(ctx context.Context, req *Request, fresh bool) (*conn, error) {
	if ctx.Err() != nil {
		return nil, ctxErr(ctx, "acquire") // keep the idle conns for others
	}
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
				p.closeAll(stale)
				if !c.alive(p.lim.peekAfter) {
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
				gen := p.reserveLocked(hp, victim)
				p.dispatchLocked()
				p.mu.Unlock()
				p.closeAll(stale)
				p.closeOne(victim)
				return p.dial(ctx, hp, gen)
			}
		}
		if err := p.mayWaitLocked(hp); err != nil {
			p.lingerIfEmptyLocked(hp)
			p.dispatchLocked()
			p.mu.Unlock()
			p.closeAll(stale)
			return nil, err
		}
		w := p.enqueueLocked(hp, fresh)
		p.dispatchLocked()
		p.mu.Unlock()
		p.closeAll(stale)
		start := time.Now()
		g, err := p.wait(ctx, w)
		if err != nil {
			return nil, err
		}
		p.noteWait(hp, time.Since(start))
		if !g.dial() {
			return g.c, nil // handed over by release: it just served a response
		}
		p.closeOne(g.victim)
		return p.dial(ctx, hp, g.drainGen)
	}
}

// reserveWarm reserves dial slots for up to n new idle conns of req's
// host, within the per-host, total and idle caps, evicting nothing.
func (p *pool) reserveWarm(req *Request, n int) (hp *hostPool, slots int, drainGen uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, 0, ErrClientClosed
	}
	hp = p.hostLocked(req)
	for slots < n {
		if p.lim.maxPerHost > 0 && hp.open() >= p.lim.maxPerHost ||
			p.lim.maxTotal > 0 && p.total >= p.lim.maxTotal ||
			hp.idle.n+hp.dialing >= p.lim.maxIdle {
			break
		}
		drainGen = p.reserveLocked(hp, nil)
		slots++
	}
	p.lingerIfEmptyLocked(hp)
	return hp, slots, drainGen, nil
}

func (p *pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// trackDial registers the cancel func of a dial in flight, so that Close
// can stop it; it reports false when the pool is closed already.
func (p *pool) trackDial(cancel *context.CancelFunc) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.dials == nil {
		p.dials = make(map[*context.CancelFunc]struct{})
	}
	p.dials[cancel] = struct{}{}
	return true
}

func (p *pool) untrackDial(cancel *context.CancelFunc) {
	p.mu.Lock()
	delete(p.dials, cancel)
	p.mu.Unlock()
}

// noteWait records how long a caller waited for a conn to hp. hp is live:
// the caller holds a conn or a dial slot of it.
func (p *pool) noteWait(hp *hostPool, d time.Duration) {
	p.mu.Lock()
	hp.waits++
	hp.waitTime += d
	hp.maxWait = max(hp.maxWait, d)
	p.waits++
	p.waitTime += d
	p.maxWait = max(p.maxWait, d)
	p.mu.Unlock()
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
// (an idle conn) first when there is one. It returns hp's drain generation:
// a DrainHost from now until the dial ends retires the conn too.
func (p *pool) reserveLocked(hp *hostPool, victim *conn) (drainGen uint64) {
	// Count the dial first: retiring the victim must not leave hp empty
	// when the victim was its last conn.
	p.wakeLocked(hp)
	hp.dialing++
	p.total++
	if victim != nil {
		p.retireIdleLocked(victim, CloseEvicted)
	}
	return hp.drainGen
}

// unreserve gives back the slots of a dial that failed.
func (p *pool) unreserve(hp *hostPool) {
	p.mu.Lock()
	hp.dialing--
	p.total--
	p.mayDialLocked(hp)
	p.dispatchLocked()
	p.lingerIfEmptyLocked(hp)
	p.mu.Unlock()
}

// forgetLocked removes an in-use conn from the accounting: its slots are
// free from now on. The caller closes the socket.
func (p *pool) forgetLocked(c *conn, why CloseReason) {
	hp := c.hp
	hp.inUse--
	hp.closed++
	hp.reasons[why]++
	hp.conns.remove(c, allLinks)
	p.total--
	p.nclosed++
	p.reasons[why]++
	c.state = stateClosed
	c.closedBy = why
	p.mayDialLocked(hp)
	p.lingerIfEmptyLocked(hp)
}

// discardConn closes a conn whose exchange was cut short by a panic in
// the caller's code, unless it is closed already. Its buffers are not
// recycled: a body sender may still hold them until the closed socket
// stops it.
func (p *pool) discardConn(c *conn) {
	p.mu.Lock()
	if c.state == stateClosed {
		p.mu.Unlock()
		return
	}
	p.forgetLocked(c, CloseError)
	p.dispatchLocked()
	p.mu.Unlock()
	c.nc.Close()
	p.reportClosed(c)
}

// closeConn closes an in-use conn and gives its slots to waiters.
func (p *pool) closeConn(c *conn, why CloseReason) {
	p.mu.Lock()
	p.forgetLocked(c, why)
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeOne(c)
}

// handOver takes an in-use conn out of the pool for good, leaving its
// socket open and its read buffer to the caller (a protocol upgrade): its
// slots are free from now on, and it counts as closed with CloseUpgraded.
// It returns the read buffer, which may hold bytes past the response head.
func (p *pool) handOver(c *conn) *bufio.Reader {
	p.mu.Lock()
	p.forgetLocked(c, CloseUpgraded)
	p.dispatchLocked()
	p.mu.Unlock()
	br := c.br
	c.br = nil
	c.recycleBuffers() // the write buffer only: it was flushed
	p.reportClosed(c)
	return br
}

// release takes back an in-use conn whose response is complete and which
// may be reused: it goes to the oldest waiter of its host, or to the idle
// deque when the host is under MaxIdleConnsPerHost, or it is closed.
func (p *pool) release(c *conn) (kept bool) {
	now := time.Now()
	p.mu.Lock()
	hp := c.hp
	why := CloseReason(numCloseReasons)
	switch {
	case p.closed:
		why = CloseClientClosed
	case c.drain.Load():
		why = CloseDrained
	case p.lim.maxRequests > 0 && c.requests >= p.lim.maxRequests:
		why = CloseMaxRequests
	case !c.retireAt.IsZero() && !now.Before(c.retireAt):
		why = CloseLifetime
	case hp.waiters.n > 0 && !hp.waiters.head.fresh:
		w := hp.waiters.head
		p.dequeueLocked(w)
		// A prewarmed conn has served nothing yet: it is not reused.
		c.reused = c.requests > 0
		if c.reused {
			hp.reused++
			p.reused++
		}
		c.wasIdle, c.idleTime = false, 0
		w.ch <- grant{c: c}
		p.mu.Unlock()
		return true
	case hp.idle.n >= p.lim.maxIdle:
		why = CloseIdleCap
	}
	if why != numCloseReasons {
		p.forgetLocked(c, why)
		p.dispatchLocked()
		p.mu.Unlock()
		p.closeOne(c)
		return false
	}
	p.pushIdleLocked(c, now)
	// A waiter of another host blocked by MaxTotalConns may now evict it.
	p.dispatchLocked()
	p.mu.Unlock()
	return true
}

// drainHost closes the idle conns of the host with key now, and marks its
// conns in use to be closed when released. It reports whether the host was
// in the pool.
func (p *pool) drainHost(key string) bool {
	p.mu.Lock()
	hp := p.hosts[key]
	if hp == nil || hp.lingering {
		p.mu.Unlock()
		return false
	}
	for c := hp.conns.head; c != nil; c = c.alink.next {
		c.drain.Store(true)
	}
	hp.drainGen++
	stale := p.retireAllLocked(&hp.idle, CloseDrained)
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeAll(stale)
	return true
}

// retireAllLocked retires every conn of an idle list (a host's deque or the
// pool-wide one) and returns them, for the caller to close unlocked.
func (p *pool) retireAllLocked(l *idleList, why CloseReason) []*conn {
	var stale []*conn
	for l.head != nil {
		c := l.head
		p.retireIdleLocked(c, why)
		stale = append(stale, c)
	}
	return stale
}

// closeIdle closes every idle conn.
func (p *pool) closeIdle() {
	p.mu.Lock()
	stale := p.retireAllLocked(&p.idle, CloseIdleClosed)
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeAll(stale)
}

// close shuts the pool: waiters fail with ErrClientClosed, idle conns are
// closed now, and conns in use are closed when released.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	for cancel := range p.dials {
		(*cancel)()
	}
	for w := p.waiters.head; w != nil; w = p.waiters.head {
		p.dequeueLocked(w)
		p.lingerIfEmptyLocked(w.hp)
		w.ch <- grant{err: ErrClientClosed}
	}
	stale := p.retireAllLocked(&p.idle, CloseClientClosed)
	p.mu.Unlock()
	p.closeAll(stale)
}

// closeOne closes the socket of a conn already forgotten by the
// accounting (forgetLocked), reports it to Events.ConnClosed and recycles
// its buffers. It is called without the lock held, by the conn's only
// user: the caller whose exchange (and body sender) is over, or whoever
// took it from the idle deque.
func (p *pool) closeOne(c *conn) {
	if c == nil {
		return
	}
	c.nc.Close()
	c.recycleBuffers()
	p.reportClosed(c)
}

// reportClosed tells Events.ConnClosed about c, closed just now.
func (p *pool) reportClosed(c *conn) {
	if f := p.c.cfg.Events.ConnClosed; f != nil {
		p.event(func() { f(c.info(), c.closedBy) })
	}
}

// holding runs the caller's code (a hook) while the caller holds c, which
// is in no exchange: should the hook panic or call runtime.Goexit, c is
// closed as that unwinds, rather than stranded in use.
func (p *pool) holding(c *conn, f func()) {
	returned := false
	defer func() {
		if !returned {
			p.closeConn(c, CloseError)
		}
	}()
	f()
	returned = true
}

// eventHolding runs an Events callback while the caller holds c: a panic
// is recovered by event, a runtime.Goexit closes c (holding).
func (p *pool) eventHolding(c *conn, f func()) {
	p.holding(c, func() { p.event(f) })
}

// event runs an Events callback. A panic in it is recovered and counted
// (Stats.EventPanics): it comes between two steps of an exchange, and
// letting it unwind the caller would strand a conn in use, its slots
// never given back.
func (p *pool) event(f func()) {
	defer func() {
		if recover() != nil {
			p.eventPanics.Add(1)
		}
	}()
	f()
}

func (p *pool) closeAll(cs []*conn) {
	for _, c := range cs {
		p.closeOne(c)
	}
}
