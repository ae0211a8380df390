// The host-policy seam between the ways in and the exchange: connFor, where every attempt takes its conn, and the turn that reports how it went.

package asynchttp

import (
	"context"
	"time"
)

// admission is what one request holds of the admissions that last the
// whole request (Config.HostLimiter's); the way in keeps it and calls
// end once the request is over.
type admission struct {
	release func() // the HostLimiter's, once admitted; nil otherwise
}

// end gives back what the request was admitted with; it is idempotent.
func (a *admission) end() {
	if a.release != nil {
		a.release()
		a.release = nil
	}
}

// hostTurn is one attempt's passage through the host policy: the way in
// reports the attempt's outcome with done, once, when the response head
// was read or the attempt failed. The zero hostTurn (no policy) does
// nothing.
type hostTurn struct {
	h        *hostState
	start    time.Time // when the attempt got its conn
	round    uint32    // the adaptive limit's round it counts in; 0: none
	adapted  *adaptive // the adaptive limit that counts it in flight; nil: none
	retry    bool      // not the request's first attempt (set by the way in)
	probe    bool      // the breaker's probe
	retrying bool      // its answer is about to be retried (set by the way in)
}

// done reports how the attempt went: the status of the response head, or
// the error that ended the attempt (status 0).
func (t *hostTurn) done(status int, err error) {
	if t.h == nil {
		return
	}
	t.h.attemptDone(t, status, err)
	t.h = nil
}

// skip ends an attempt that never reached the host (Config.HostLimiter
// refused it), or one a panic in a hook cut short: the policy hears no
// outcome, only that the turn is over. After done it does nothing.
func (t *hostTurn) skip() {
	if t.h == nil {
		return
	}
	t.h.attemptSkipped(t)
	t.h = nil
}

// connFor returns a conn for one attempt of req, in use by the caller:
// Do, Execute, ExecuteHandler and RoundTrip all take their conns here, so
// the host policy sees every attempt, retries included, before it holds a
// connection slot. The first attempt is then admitted by Config.HostLimiter
// (after the local policy, so that waiting out a local rate holds no
// shared slot); adm keeps that admission for the rest of the request.
// fresh asks for a new connection (a retry). turn is the attempt's: the
// caller reports its outcome with turn.done, also when connFor fails.
func (c *Client) connFor(ctx context.Context, req *Request, fresh bool, adm *admission, turn *hostTurn) (*conn, error) {
	if p := c.policy.Load(); p != nil {
		h, probe, err := p.admit(ctx, req, turn.retry)
		if err != nil {
			return nil, err
		}
		turn.h, turn.probe = h, probe
	}
	if c.cfg.HostLimiter != nil && adm.release == nil {
		start := time.Now()
		release, err := c.admitHost(ctx, req)
		if turn.h != nil {
			turn.h.admitted(time.Since(start), err)
		}
		if err != nil {
			turn.skip()
			return nil, err
		}
		adm.release = release
	}
	cn, err := c.pool.acquire(ctx, req, fresh)
	if err != nil {
		turn.done(0, err)
		return nil, err
	}
	if turn.h != nil {
		turn.start = time.Now()
		turn.h.gotConn(turn)
	}
	return cn, nil
}
