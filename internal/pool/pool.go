// The pool: Config, Key and Pool, acquiring a conn (idle, dialed or handed over), reserving slots, releasing.

package pool

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Config holds the pool's settings, already resolved: no zero-means-default
// except where a comment says so.
type Config struct {
	MaxTotal  int // conns open across keys (dialing, in use, idle); 0: no cap
	MaxPerKey int // conns open per key; 0: no cap (a key may have its own, see SetKeyMax)
	MaxIdle   int // idle conns kept per key, checked on Release; 0: none
	// MaxIdleTotal caps the idle conns across keys: a conn going idle
	// past it closes the least recently used idle conn of any key
	// (IdleCap). 0: no cap.
	MaxIdleTotal int
	MaxPending   int // waiters per key; 0: no cap
	// AcquireTimeout bounds a wait for a slot: negative fails at once,
	// zero waits as long as the context, positive at most that long.
	AcquireTimeout time.Duration
	// DialOnTimeout lets a waiter whose AcquireTimeout passes while its
	// key is at its cap dial past that cap, when MaxTotal leaves room
	// (MaxTotal is never exceeded). Counted in KeyStats.Overflows.
	DialOnTimeout bool
	IdleTimeout   time.Duration // idle conns expire after this; 0: never
	Lifetime      time.Duration // conns are not reused past this age; 0: forever
	Jitter        float64       // each lifetime is shortened by up to this fraction, [0, 1]
	MaxRequests   int           // conns retire after this many requests; 0: no limit
	FIFO          bool          // reuse the longest-idle conn first; false: the most recent
	// Linger is how long a key with no conn and no waiter stays known
	// (with its counters); zero means IdleTimeout, or 90 s when that is
	// zero too. MaxLingering caps how many stay; zero means 256.
	Linger       time.Duration
	MaxLingering int
	// Rand draws the lifetime jitter from [0, 1); nil means math/rand/v2.
	Rand func() float64

	// NewKey, when set, runs (under the pool's lock) when a key is first
	// seen, with the hint given to Acquire or ReserveWarm: it may fill
	// Key.Data. ForgetKey runs (under the lock) when a key is dropped.
	NewKey    func(k *Key, hint any)
	ForgetKey func(k *Key)
	// KeyMax, when set, gives a key its own cap on open conns (0:
	// MaxPerKey), under the pool's lock, after NewKey and on
	// RefreshKeyMax. It must not call the pool.
	KeyMax func(k *Key) int
	// Dial opens a conn for k in slots the pool has reserved. Required.
	Dial func(ctx context.Context, k *Key) (Conn, error)
	// Setup, when set, runs on each new conn once it is counted, before it
	// is used; an error closes the conn (Error). ctx ends at Shutdown.
	Setup func(ctx context.Context, c Conn) error
	// Created and Closed, when set, are told of each conn dialed and
	// closed, outside the lock. A panic in them is recovered and counted.
	Created func(c Conn)
	Closed  func(c Conn, why Reason)

	Errors Errors
}

// DefaultLinger is how long an empty key stays when neither Linger nor
// IdleTimeout is set.
const DefaultLinger = 90 * time.Second

// Key is the state of one key. It exists while the key has an open conn
// or a waiter, and lingers after that (see lingerIfEmptyLocked) so that
// its counters stay in Stats a while and a key that comes back soon costs
// no allocation.
type Key struct {
	name string
	// Data is the owner's (see Config.NewKey); the pool never reads it.
	Data any

	dialing, inUse int
	max            int       // the key's own cap on open conns; 0: Config.MaxPerKey
	lowered        bool      // its cap was lowered once: open may exceed it until conns are released
	idle           entryList // idle conns, oldest first (links h)
	waiters        waitList
	conns          entryList // every open (dialed) conn, oldest first (links a)
	drainGen       uint64    // counts Drain calls: conns dialing meanwhile are drained too
	readyIdx       int       // index in Pool.ready, -1 when not there
	readyKey       uint64    // the seq of its oldest waiter when queued in Pool.ready
	lingering      bool      // empty, in Pool.empty
	emptySince     time.Time
	eprev, enext   *Key // Pool.empty links

	counters
}

// Name returns the key.
func (k *Key) Name() string { return k.name }

func (k *Key) open() int { return k.dialing + k.inUse + k.idle.n }

// counters are what Stats reports as totals since a key (or the pool)
// was made.
type counters struct {
	created, reused, nclosed uint64
	reasons                  [NumReasons]uint64
	waits                    uint64        // callers that had to wait for a conn
	waitTime, maxWait        time.Duration // their total and longest wait
	overflows                uint64        // dials past the key's cap after AcquireTimeout (DialOnTimeout)
}

// Pool is a connection pool. One mutex guards all of it; it is never held
// across I/O or the owner's code, except NewKey and ForgetKey.
type Pool struct {
	cfg  Config
	errs Errors

	mu       sync.Mutex
	keys     map[string]*Key
	keysPeak int       // len(keys) at its largest since the map was made
	total    int       // open conns across keys: the MaxTotal semaphore
	idle     entryList // every idle conn, least recently used first (links g)
	waiters  waitList  // every waiter, in arrival order
	waitSeq  uint64    // the last waiter's seq
	ready    keyQueue  // keys whose waiters may dial now
	spare    sync.Pool // recycled *waiter (see newWaiter)
	empty    emptyKeys // keys with no conn and no waiter, oldest first
	inflight Inflight  // dials, lookups and setups in flight, stopped by Shutdown
	closed   bool

	counters
	eventPanics atomic.Uint64
}

// New returns a pool with the settings of cfg. It starts no goroutine: the
// owner calls ReapOnce every ReapPeriod.
func New(cfg Config) *Pool {
	p := &Pool{cfg: cfg, errs: cfg.Errors, keys: make(map[string]*Key)}
	p.errs.fill()
	p.cfg.Jitter = min(max(p.cfg.Jitter, 0), 1)
	if p.cfg.Linger <= 0 {
		p.cfg.Linger = p.cfg.IdleTimeout
		if p.cfg.Linger <= 0 {
			p.cfg.Linger = DefaultLinger
		}
	}
	if p.cfg.MaxLingering <= 0 {
		p.cfg.MaxLingering = 256
	}
	if p.cfg.Rand == nil {
		p.cfg.Rand = rand.Float64
	}
	p.spare.New = newWaiter
	return p
}

// keyLocked returns the Key of key, making it if needed. The lookup does
// not allocate.
func (p *Pool) keyLocked(key []byte, hint any) *Key {
	if k := p.keys[string(key)]; k != nil {
		return k
	}
	k := &Key{name: string(key), readyIdx: -1}
	if p.cfg.NewKey != nil {
		p.cfg.NewKey(k, hint)
	}
	if p.cfg.KeyMax != nil {
		k.max = max(p.cfg.KeyMax(k), 0)
	}
	p.keys[k.name] = k
	return k
}

// Acquire returns a conn of key, in use by the caller: an idle one that is
// still fresh and alive, a new one dialed in a slot reserved for it, or one
// handed over by Release while the caller waited. fresh skips idle conns
// and handed-over ones (a retry wants a new conn), replacing the key's
// oldest idle conn when the key is at its cap. hint goes to Config.NewKey
// should key be new.
func (p *Pool) Acquire(ctx context.Context, key []byte, fresh bool, hint any) (*Entry, error) {
	if ctx.Err() != nil {
		return nil, p.errs.Ctx(ctx, "acquire") // keep the idle conns for others
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, p.errs.Closed
		}
		k := p.keyLocked(key, hint)
		var stale []*Entry
		if !fresh {
			if e := p.takeIdleLocked(k, time.Now(), &stale); e != nil {
				p.dispatchLocked()
				p.mu.Unlock()
				p.closeAll(stale)
				if !e.conn.Alive() {
					p.mu.Lock()
					k.reused-- // counted by takeIdleLocked, but not reused after all
					p.reused--
					p.mu.Unlock()
					e.reused = false
					p.CloseConn(e, ServerClosed)
					continue
				}
				e.waited = 0
				return e, nil
			}
		}
		// Join the queue behind earlier waiters rather than overtake them.
		if k.waiters.n == 0 {
			if ok, victim := p.roomLocked(k, fresh); ok {
				gen := p.reserveLocked(k, victim)
				p.dispatchLocked()
				p.mu.Unlock()
				p.closeAll(stale)
				p.closeOne(victim)
				return p.dial(ctx, k, gen)
			}
		}
		if err := p.mayWaitLocked(k); err != nil {
			p.lingerIfEmptyLocked(k)
			p.dispatchLocked()
			p.mu.Unlock()
			p.closeAll(stale)
			return nil, err
		}
		w := p.enqueueLocked(k, fresh)
		p.dispatchLocked()
		p.mu.Unlock()
		p.closeAll(stale)
		start := time.Now()
		g, err := p.wait(ctx, w)
		if err != nil {
			return nil, err
		}
		waited := time.Since(start)
		p.noteWait(k, waited)
		if !g.dial() {
			g.e.waited = waited
			return g.e, nil // handed over by Release: it just served a request
		}
		p.closeOne(g.victim)
		e, err := p.dial(ctx, k, g.drainGen)
		if e != nil {
			e.waited = waited
		}
		return e, err
	}
}

// Reservation is the slots ReserveWarm took for one key.
type Reservation struct {
	k     *Key
	slots int
	gen   uint64
}

// Slots returns the number of conns reserved.
func (r Reservation) Slots() int { return r.slots }

// ReserveWarm reserves dial slots for up to n new idle conns of key, within
// the per-key, total and idle caps, evicting nothing. The caller dials
// each slot with DialReserved.
func (p *Pool) ReserveWarm(key []byte, hint any, n int) (Reservation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Reservation{}, p.errs.Closed
	}
	r := Reservation{k: p.keyLocked(key, hint)}
	k := r.k
	for r.slots < n {
		if m := p.capLocked(k); m > 0 && k.open() >= m ||
			p.cfg.MaxTotal > 0 && p.total >= p.cfg.MaxTotal ||
			k.idle.n+k.dialing >= p.cfg.MaxIdle {
			break
		}
		r.gen = p.reserveLocked(k, nil)
		r.slots++
	}
	p.lingerIfEmptyLocked(k)
	return r, nil
}

// DialReserved dials one conn in a slot of r, in use by the caller; on
// failure the slot is given back.
func (p *Pool) DialReserved(ctx context.Context, r Reservation) (*Entry, error) {
	return p.dial(ctx, r.k, r.gen)
}

// IsClosed reports whether Shutdown was called.
func (p *Pool) IsClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Inflight returns the registry of work in flight that Shutdown stops:
// Config.Dial registers its dials and lookups there.
func (p *Pool) Inflight() *Inflight { return &p.inflight }

// noteWait records how long a caller waited for a conn to k. k is live:
// the caller holds a conn or a dial slot of it.
func (p *Pool) noteWait(k *Key, d time.Duration) {
	p.mu.Lock()
	k.waits++
	k.waitTime += d
	k.maxWait = max(k.maxWait, d)
	p.waits++
	p.waitTime += d
	p.maxWait = max(p.maxWait, d)
	p.mu.Unlock()
}

// roomLocked reports whether k may open one more conn now and, when that
// needs an idle conn closed first, which one.
func (p *Pool) roomLocked(k *Key, fresh bool) (bool, *Entry) {
	var victim *Entry
	if m := p.capLocked(k); m > 0 && k.open() >= m {
		if !fresh || k.idle.n == 0 {
			return false, nil
		}
		victim = k.idle.head // a retry replaces the key's oldest idle conn
	}
	if p.cfg.MaxTotal > 0 && p.total >= p.cfg.MaxTotal && victim == nil {
		if p.idle.n == 0 {
			return false, nil
		}
		// Idle conns never starve a busy key: close the least recently
		// used idle conn of any key.
		victim = p.idle.head
	}
	return true, victim
}

// reserveLocked takes the slots of one dialing conn of k, retiring victim
// (an idle conn) first when there is one. It returns k's drain generation:
// a Drain from now until the dial ends retires the conn too.
func (p *Pool) reserveLocked(k *Key, victim *Entry) (drainGen uint64) {
	// Count the dial first: retiring the victim must not leave k empty
	// when the victim was its last conn.
	p.wakeLocked(k)
	k.dialing++
	p.total++
	if victim != nil {
		p.retireIdleLocked(victim, Evicted)
	}
	return k.drainGen
}

// unreserve gives back the slots of a dial that failed.
func (p *Pool) unreserve(k *Key) {
	p.mu.Lock()
	k.dialing--
	p.total--
	p.mayDialLocked(k)
	p.dispatchLocked()
	p.lingerIfEmptyLocked(k)
	p.mu.Unlock()
}

// LastRequest names why the request about to go out on e is its last —
// it reaches MaxRequests, or e is past its lifetime or drained — or
// returns NumReasons. The holder may tell the peer so.
func (p *Pool) LastRequest(e *Entry) Reason {
	switch {
	case e.drain.Load():
		return Drained
	case p.cfg.MaxRequests > 0 && e.Requests+1 >= p.cfg.MaxRequests:
		return MaxRequests
	case e.retiredAt(time.Now()):
		return Lifetime
	}
	return NumReasons
}

// Release takes back an in-use conn that may be reused: it goes to the
// oldest waiter of its key, or to the idle lists when the key is under
// MaxIdle, or it is closed. It reports whether the conn was kept.
func (p *Pool) Release(e *Entry) (kept bool) {
	now := time.Now()
	p.mu.Lock()
	k := e.key
	why := NumReasons
	switch {
	case p.closed:
		why = PoolClosed
	case e.drain.Load():
		why = Drained
	case p.cfg.MaxRequests > 0 && e.Requests >= p.cfg.MaxRequests:
		why = MaxRequests
	case e.retiredAt(now):
		why = Lifetime
	case k.overCapLocked(p):
		why = OverCap // its cap was lowered, or it was dialed past it: it retires as it comes back
	case k.waiters.n > 0 && !k.waiters.head.fresh:
		w := k.waiters.head
		p.dequeueLocked(w)
		// A prewarmed conn has served nothing yet: it is not reused.
		e.reused = e.Requests > 0
		if e.reused {
			k.reused++
			p.reused++
		}
		e.wasIdle, e.idleTime = false, 0
		w.ch <- grant{e: e}
		p.mu.Unlock()
		return true
	case k.idle.n >= p.cfg.MaxIdle:
		why = IdleCap
	}
	if why != NumReasons {
		p.forgetLocked(e, why)
		p.dispatchLocked()
		p.mu.Unlock()
		p.closeOne(e)
		return false
	}
	p.pushIdleLocked(e, now)
	var over *Entry
	if p.cfg.MaxIdleTotal > 0 && p.idle.n > p.cfg.MaxIdleTotal {
		over = p.idle.head // the least recently used idle conn, of any key
		p.retireIdleLocked(over, IdleCap)
	}
	// A waiter of another key blocked by MaxTotal may now evict it.
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeOne(over)
	return over != e
}
