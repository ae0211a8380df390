// A key's own cap on open conns, changed at runtime, and dials past it when a wait times out (DialOnTimeout).

package pool

import "strings"

// capLocked returns k's cap on open conns: its own, else Config.MaxPerKey;
// 0 means none.
func (p *Pool) capLocked(k *Key) int {
	if k.max > 0 {
		return k.max
	}
	return p.cfg.MaxPerKey
}

// overCapLocked reports whether k has more conns open than its cap.
func (k *Key) overCapLocked(p *Pool) bool {
	m := p.capLocked(k)
	return m > 0 && k.open() > m
}

// RefreshKeyMax asks Config.KeyMax again for the cap on open conns of the
// key named name and, when prefixed, of every key whose name starts with
// name followed by a space (the same host reached through proxies). The
// owner calls it after the cap it gives changed; as KeyMax is asked under
// the pool's lock, the last refresh always applies the latest cap.
// Raising it lets waiters dial at once; lowering it closes nothing in use:
// conns over the cap are closed as they are released (OverCap), idle ones
// at once. Keys not known are untouched: KeyMax gives theirs when made.
func (p *Pool) RefreshKeyMax(name string, prefixed bool) {
	if p.cfg.KeyMax == nil {
		return
	}
	var surplus []*Entry
	p.mu.Lock()
	if k := p.keys[name]; k != nil {
		surplus = p.setMaxLocked(k, p.cfg.KeyMax(k), surplus)
	}
	if prefixed {
		for kn, k := range p.keys {
			if len(kn) > len(name) && kn[len(name)] == ' ' && strings.HasPrefix(kn, name) {
				surplus = p.setMaxLocked(k, p.cfg.KeyMax(k), surplus)
			}
		}
	}
	p.dispatchLocked()
	p.mu.Unlock()
	p.closeAll(surplus)
}

// setMaxLocked applies a new cap to k, appending the idle conns it no
// longer may keep to surplus.
func (p *Pool) setMaxLocked(k *Key, n int, surplus []*Entry) []*Entry {
	old := p.capLocked(k)
	k.max = max(n, 0)
	m := p.capLocked(k)
	if m > 0 && (old == 0 || m < old) {
		for k.open() > m && k.idle.n > 0 {
			e := k.idle.head
			p.retireIdleLocked(e, OverCap)
			surplus = append(surplus, e)
		}
		if k.open() > m {
			k.lowered = true
		}
	}
	if m == 0 || k.open() < m {
		p.mayDialLocked(k)
	}
	if k.lowered && (m == 0 || k.open() <= m) {
		k.lowered = false
	}
	return surplus
}

// overflowLocked serves a waiter whose AcquireTimeout passed while its key
// was at its cap: it may dial past the key's cap when MaxTotal leaves room
// (closing another key's least recently used idle conn when needed). It
// reports whether w was granted that dial.
func (p *Pool) overflowLocked(w *waiter) (grant, bool) {
	if !w.queued {
		return grant{}, false // served meanwhile: the caller takes that grant
	}
	k := w.k
	var victim *Entry
	if p.cfg.MaxTotal > 0 && p.total >= p.cfg.MaxTotal {
		if p.idle.n == 0 {
			return grant{}, false
		}
		victim = p.idle.head
	}
	p.dequeueLocked(w)
	gen := p.reserveLocked(k, victim)
	k.overflows++
	p.overflows++
	return grant{victim: victim, drainGen: gen}, true
}
