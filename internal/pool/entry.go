// Entry, the pool's bookkeeping embedded in each conn, and the intrusive lists that thread entries.

package pool

import (
	"sync/atomic"
	"time"
)

// Conn is a connection as the pool sees it. The owner's conn type embeds
// an Entry (which gives it PoolEntry) and says how to close it and whether
// it is still usable.
type Conn interface {
	// PoolEntry returns the Entry embedded in the conn.
	PoolEntry() *Entry
	// Close closes the conn's socket and frees what it holds. The pool
	// calls it once, without its lock, for each conn it retires itself
	// (expired, evicted, over a cap, drained, shut) and for conns the
	// holder hands to CloseConn.
	Close()
	// Alive reports whether an idle conn may be reused: the peer has not
	// closed it and sent nothing unasked. It is asked, without the pool's
	// lock, each time an idle conn is taken.
	Alive() bool
}

type state uint8

const (
	stateInUse state = iota
	stateIdle
	stateClosed
)

// Entry is the pool's part of a conn. The holder of a conn in use owns
// Requests and KeepAlive; every other field is the pool's.
type Entry struct {
	// Requests counts the requests completed on the conn. The holder
	// counts them; the pool reads them at Release (MaxRequests) and when
	// handing the conn over (a conn that served nothing is not reused).
	Requests int
	// KeepAlive is how long the peer keeps the conn idle, less a margin,
	// as its last response said; zero means unknown. The holder sets it
	// before Release; an idle conn expires at the shorter of it and
	// Config.IdleTimeout.
	KeepAlive time.Duration

	conn      Conn
	key       *Key
	createdAt time.Time
	// The other times are kept as offsets from createdAt (8 bytes, not a
	// 24-byte time.Time each): an idle conn's entry is most of its cost.
	idleAt   time.Duration // last use: when it last went idle
	retireAt time.Duration // Lifetime (less jitter) ends here; zero: never
	state    state         // guarded by Pool.mu
	reused   bool          // it served a request before the current one
	wasIdle  bool          // it came from the idle list
	idleTime time.Duration
	waited   time.Duration // how long its holder waited for a slot (a cap was reached)
	closedBy Reason
	drain    atomic.Bool // Drain: close when released
	h, g, a  links       // guarded by Pool.mu: key idle list, pool idle list, key open list
}

// PoolEntry returns e itself: an owner's conn that embeds an Entry
// satisfies that part of Conn.
func (e *Entry) PoolEntry() *Entry { return e }

// Conn returns the conn e belongs to.
func (e *Entry) Conn() Conn { return e.conn }

// Key returns the key of e's conn.
func (e *Entry) Key() string { return e.key.name }

// KeyData returns the Data of e's key.
func (e *Entry) KeyData() any { return e.key.Data }

// CreatedAt returns when the conn was registered, just after its dial.
func (e *Entry) CreatedAt() time.Time { return e.createdAt }

// IdleSince returns when the conn was last released to the idle list.
func (e *Entry) IdleSince() time.Time { return e.createdAt.Add(e.idleAt) }

// Reused reports whether the conn served a request before the current one.
func (e *Entry) Reused() bool { return e.reused }

// WasIdle reports whether the conn came from the idle list, and how long
// it had been idle.
func (e *Entry) WasIdle() (bool, time.Duration) { return e.wasIdle, e.idleTime }

// Waited returns how long the holder waited in Acquire for a slot or a
// conn, because a cap was reached; zero when it did not wait (dialing
// time is not counted).
func (e *Entry) Waited() time.Duration { return e.waited }

// IdleTime is how long the conn had been idle when it was taken (zero
// when it was dialed or handed over).
func (e *Entry) IdleTime() time.Duration { return e.idleTime }

// Drained reports whether the conn's key was drained since it was dialed.
func (e *Entry) Drained() bool { return e.drain.Load() }

// RetireAt returns when the conn's lifetime ends; zero: never.
func (e *Entry) RetireAt() time.Time {
	if e.retireAt == 0 {
		return time.Time{}
	}
	return e.createdAt.Add(e.retireAt)
}

// retiredAt reports whether the conn's lifetime has ended at now.
func (e *Entry) retiredAt(now time.Time) bool {
	return e.retireAt != 0 && now.Sub(e.createdAt) >= e.retireAt
}

// idleFor returns how long the conn has been idle at now.
func (e *Entry) idleFor(now time.Time) time.Duration { return now.Sub(e.createdAt) - e.idleAt }

// ClosedBy returns why the conn was closed (meaningful once it is).
func (e *Entry) ClosedBy() Reason { return e.closedBy }

type links struct{ prev, next *Entry }

func hostLinks(e *Entry) *links   { return &e.h }
func globalLinks(e *Entry) *links { return &e.g }
func allLinks(e *Entry) *links    { return &e.a }

// entryList is an intrusive doubly linked list of entries, oldest first.
// An idle entry sits in three at once: its key's idle deque (h), the
// pool-wide LRU list (g) and its key's list of open conns (a).
type entryList struct {
	head, tail *Entry
	n          int
}

func (l *entryList) pushBack(e *Entry, lk func(*Entry) *links) {
	el := lk(e)
	el.prev, el.next = l.tail, nil
	if l.tail != nil {
		lk(l.tail).next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *entryList) remove(e *Entry, lk func(*Entry) *links) {
	el := lk(e)
	if el.prev != nil {
		lk(el.prev).next = el.next
	} else {
		l.head = el.next
	}
	if el.next != nil {
		lk(el.next).prev = el.prev
	} else {
		l.tail = el.prev
	}
	el.prev, el.next = nil, nil
	l.n--
}
