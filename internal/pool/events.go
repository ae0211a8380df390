// Closing conns outside the lock, and running the owner's callbacks so a panic strands nothing.

package pool

// closeOne closes a conn already forgotten by the accounting
// (forgetLocked) and reports it to Config.Closed. It is called without the
// lock held, by the conn's only user: the caller whose use is over, or
// whoever took it from the idle lists.
func (p *Pool) closeOne(e *Entry) {
	if e == nil {
		return
	}
	e.conn.Close()
	p.ReportClosed(e)
}

func (p *Pool) closeAll(es []*Entry) {
	for _, e := range es {
		p.closeOne(e)
	}
}

// ReportClosed tells Config.Closed about e, closed (or detached) just now.
func (p *Pool) ReportClosed(e *Entry) {
	if f := p.cfg.Closed; f != nil {
		p.Event(func() { f(e.conn, e.closedBy) })
	}
}

// Holding runs the owner's code f while the caller holds e, which is in
// no exchange: should f panic or call runtime.Goexit, e is closed (Error)
// as that unwinds, rather than stranded in use.
func (p *Pool) Holding(e *Entry, f func()) {
	returned := false
	defer func() {
		if !returned {
			p.CloseConn(e, Error)
		}
	}()
	f()
	returned = true
}

// EventHolding runs an event callback while the caller holds e: a panic
// is recovered by Event, a runtime.Goexit closes e (Holding).
func (p *Pool) EventHolding(e *Entry, f func()) {
	p.Holding(e, func() { p.Event(f) })
}

// Event runs an event callback. A panic in it is recovered and counted
// (Stats.EventPanics): it comes between two steps of a use of a conn, and
// letting it unwind the caller would strand the conn, its slots never
// given back.
func (p *Pool) Event(f func()) {
	defer func() {
		if recover() != nil {
			p.eventPanics.Add(1)
		}
	}()
	f()
}
