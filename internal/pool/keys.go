// Lingering keys: a key with no conn and no waiter stays known a while, then is forgotten.

package pool

import (
	"time"

	"github.com/asynchttp/asynchttp/internal/shrink"
)

// emptyKeys is the list of lingering keys, least recently emptied first.
type emptyKeys struct {
	head, tail *Key
	n          int
}

// lingerIfEmptyLocked lets a key that has no conn and no waiter linger
// (also after Shutdown: Stats then still tells why each key's conns
// closed). The oldest lingering key is forgotten when there are too many.
func (p *Pool) lingerIfEmptyLocked(k *Key) {
	if k.open() != 0 || k.waiters.n != 0 || k.lingering || p.keys[k.name] != k {
		return
	}
	k.lingering, k.emptySince = true, time.Now()
	l := &p.empty
	k.eprev, k.enext = l.tail, nil
	if l.tail != nil {
		l.tail.enext = k
	} else {
		l.head = k
	}
	l.tail = k
	l.n++
	if l.n > p.cfg.MaxLingering {
		p.forgetKeyLocked(l.head)
	}
}

// wakeLocked takes k off the lingering list. A key stops being empty only
// by a dial slot (reserveLocked) or a waiter (enqueueLocked): both wake
// it, so it never lingers while in use.
func (p *Pool) wakeLocked(k *Key) {
	if !k.lingering {
		return
	}
	l := &p.empty
	if k.eprev != nil {
		k.eprev.enext = k.enext
	} else {
		l.head = k.enext
	}
	if k.enext != nil {
		k.enext.eprev = k.eprev
	} else {
		l.tail = k.eprev
	}
	k.eprev, k.enext, k.lingering = nil, nil, false
	l.n--
}

// forgetKeyLocked drops a lingering key from the map; one that is in use
// after all (which wakeLocked should have seen) only leaves the list.
func (p *Pool) forgetKeyLocked(k *Key) {
	p.wakeLocked(k)
	if k.open() == 0 && k.waiters.n == 0 {
		delete(p.keys, k.name)
		if p.cfg.ForgetKey != nil {
			p.cfg.ForgetKey(k)
		}
	}
}

// pruneKeysLocked forgets the keys that have lingered past Config.Linger.
func (p *Pool) pruneKeysLocked(now time.Time) {
	for k := p.empty.head; k != nil && now.Sub(k.emptySince) >= p.cfg.Linger; k = p.empty.head {
		p.forgetKeyLocked(k)
	}
	p.keys, p.keysPeak = shrink.Map(p.keys, p.keysPeak)
}

// Keys returns the number of keys known, lingering ones included, and
// of those with a conn or a waiter.
func (p *Pool) Keys() (known, active int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys), len(p.keys) - p.empty.n
}
