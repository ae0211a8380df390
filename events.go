// Pool events: callbacks for connections created, acquired, released and
// closed, and for requests started and done.

package asynchttp

import (
	"errors"
	"net"
	"time"
)

// ConnInfo describes a connection in an event.
type ConnInfo struct {
	Host       string // the host key, "scheme://host:port"
	LocalAddr  net.Addr
	RemoteAddr net.Addr
	CreatedAt  time.Time
	Requests   int // requests completed on it so far
}

// Events holds optional callbacks for what happens to the pool's
// connections. Nil callbacks are skipped. Callbacks run outside the pool's
// lock, after its accounting, in the goroutine that caused the event: a
// slow callback delays that goroutine only. They may be called
// concurrently. A panic in a callback is recovered and counted in
// Stats.EventPanics; the exchange goes on.
type Events struct {
	// ConnCreated: a connection was dialed (and its TLS handshake done).
	ConnCreated func(ConnInfo)
	// ConnAcquired: a caller got a connection; reused says whether it had
	// served requests before.
	ConnAcquired func(info ConnInfo, reused bool)
	// ConnReleased: a caller gave back a connection whose response was
	// complete. ConnClosed follows at once if the pool does not keep it.
	ConnReleased func(ConnInfo)
	// ConnClosed: a connection was closed, and why.
	ConnClosed func(ConnInfo, CloseReason)

	// RequestStart: a request passed validation and is about to wait for
	// a connection (Do, Execute, ExecuteHandler or RoundTrip). Only Method
	// and Host are set.
	RequestStart func(RequestInfo)
	// RequestDone: a request that RequestStart reported has ended: its
	// response is complete (for RoundTrip, its body read to the end or
	// closed; for an upgrade, at the 101), or it failed. Exactly one
	// RequestDone follows each RequestStart.
	//
	// With neither request callback set, requests cost nothing more (Do
	// stays free of allocations); with one set, each request costs two
	// time.Now calls and two allocations, about 150 bytes (the host key
	// as a string, and the request's record), under 1 µs in
	// BenchmarkDoWithRequestEvents.
	RequestDone func(RequestInfo)

	// HostLimitChanged: the adaptive connection limit of host
	// ("scheme://host:port", HostPolicy.Adaptive) moved to limit.
	HostLimitChanged func(host string, limit int)

	// BreakerChanged: the circuit breaker of host ("scheme://host:port")
	// changed state (Config.Breaker); retryAt is when an open breaker lets
	// a probe through.
	BreakerChanged func(host string, state BreakerState, retryAt time.Time)
}

// breakerChanged reports a breaker transition to Events.
func (c *Client) breakerChanged(host string, st BreakerState, retryAt time.Time) {
	if f := c.cfg.Events.BreakerChanged; f != nil {
		c.pool.event(func() { f(host, st, retryAt) })
	}
}

// RequestInfo describes a request in Events.RequestStart and RequestDone.
type RequestInfo struct {
	Method string
	Host   string // the host key, "scheme://host:port"

	// Set in RequestDone.
	StatusCode int           // the final status; 0 when no response head was read
	Err        error         // why the request failed; nil when the response completed (or its body was closed early)
	Reused     bool          // the last attempt went out on a connection that had served before
	Wait       time.Duration // time spent waiting for a connection because a cap was reached (dialing not included)
	Duration   time.Duration // from the start to the end of the response body, or the failure
	Attempts   int           // connections tried: 2 after the retry of a request on a stale connection
}

// reqObs follows one request for the request callbacks; nil when none is
// set.
type reqObs struct {
	c     *Client
	info  RequestInfo
	start time.Time
	done  bool
}

// observe returns the follower of a request whose validation passed, and
// reports its start; nil when no request callback is set.
func (c *Client) observe(req *Request) *reqObs {
	ev := &c.cfg.Events
	if ev.RequestStart == nil && ev.RequestDone == nil {
		return nil
	}
	o := &reqObs{c: c, start: time.Now()}
	o.info.Method = req.Method()
	o.info.Host = string(req.hostKey())
	if f := ev.RequestStart; f != nil {
		c.pool.event(func() { f(o.info) })
	}
	return o
}

// attempt notes the conn an attempt of the request got.
func (o *reqObs) attempt(cn *conn) {
	if o == nil {
		return
	}
	o.info.Attempts++
	o.info.Reused = cn.Reused()
	o.info.Wait += cn.Waited()
}

// end reports the end of the request, once.
func (o *reqObs) end(status int, err error) {
	if o == nil || o.done {
		return
	}
	o.done = true
	o.info.StatusCode, o.info.Err = status, err
	o.info.Duration = time.Since(o.start)
	if f := o.c.cfg.Events.RequestDone; f != nil {
		o.c.pool.event(func() { f(o.info) })
	}
}

// errUnwound is what RequestDone hears of a request ended by a panic (or
// runtime.Goexit) in the caller's own code that the exchange ran.
var errUnwound = errors.New("asynchttp: request ended by a panic in a hook")

// unwound reports the end of a request that a panic cut short; deferred,
// it does nothing when the request ended normally.
func (o *reqObs) unwound() {
	if o != nil && !o.done {
		o.end(0, errUnwound)
	}
}
