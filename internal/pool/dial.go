// Dialing in reserved slots: the owner's Dial and Setup, counting the new conn, slots back on failure.

package pool

import (
	"context"
	"time"
)

// dial opens a conn of k in slots already reserved by the caller; on
// failure the slots are given back.
func (p *Pool) dial(ctx context.Context, k *Key, gen uint64) (*Entry, error) {
	// The owner's code runs in here (Config.Dial, Setup, Created). Should
	// it panic (or call runtime.Goexit), the slots, or the new conn, are
	// given back before the panic goes on: a caller that recovers must
	// not leave the pool a conn short.
	reserved := true
	var held *Entry
	defer func() {
		// Runs while a panic or runtime.Goexit unwinds, which goes on
		// afterwards; every normal way out clears both first.
		switch {
		case held != nil:
			p.CloseConn(held, Error)
		case reserved:
			p.unreserve(k)
		}
	}()
	c, err := p.cfg.Dial(ctx, k)
	if err != nil {
		reserved = false
		p.unreserve(k)
		if p.IsClosed() && ctx.Err() == nil {
			return nil, p.errs.Closed
		}
		return nil, err
	}
	e := c.PoolEntry()
	e.conn, e.key, e.state = c, k, stateInUse
	e.createdAt = time.Now()
	if p.cfg.Lifetime > 0 {
		life := p.cfg.Lifetime
		if p.cfg.Jitter > 0 {
			// Conns made together must not all retire together.
			life -= time.Duration(p.cfg.Jitter * p.cfg.Rand() * float64(life))
		}
		e.retireAt = max(life, 1) // zero means never
	}
	p.mu.Lock()
	reserved = false
	k.dialing--
	k.inUse++
	k.created++
	k.conns.pushBack(e, allLinks)
	p.created++
	if k.drainGen != gen {
		e.drain.Store(true) // Drain ran since the slots were reserved
	}
	closed := p.closed
	if closed {
		p.forgetLocked(e, PoolClosed)
	}
	p.mu.Unlock()
	if !closed {
		held = e // from here until it is returned or closed
	}
	if f := p.cfg.Created; f != nil {
		p.Event(func() { f(c) })
	}
	if closed {
		p.closeOne(e)
		return nil, p.errs.Closed
	}
	if setup := p.cfg.Setup; setup != nil {
		// Shutdown stops a setup in flight, as it stops dials.
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if !p.inflight.Track(&cancel) {
			held = nil
			p.CloseConn(e, PoolClosed)
			return nil, p.errs.Closed
		}
		defer p.inflight.Untrack(&cancel)
		if err := setup(sctx, c); err != nil {
			held = nil
			p.CloseConn(e, Error)
			switch {
			case ctx.Err() != nil:
				return nil, p.errs.Ctx(ctx, "setup")
			case p.IsClosed():
				return nil, p.errs.Closed
			}
			return nil, err
		}
	}
	held = nil
	return e, nil
}
