// Status retries: RetryPolicy, Retry-After (seconds or an HTTP-date), full-jitter backoff, the host pause and the retry budget.

package asynchttp

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy retries requests whose response status says "try again
// later" (Config.Retry). It is off unless MaxAttempts > 1. Only requests
// that are safe to send again are retried: an idempotent method (GET,
// HEAD, OPTIONS, TRACE, PUT, DELETE) or an Idempotency-Key field, and a
// body that can be replayed (buffered, or a stream with GetBody).
type RetryPolicy struct {
	// MaxAttempts is the number of tries in all, the first included; 0
	// or 1: no status retries.
	MaxAttempts int
	// Statuses are the statuses retried; nil means 429 and 503.
	Statuses []int
	// BaseBackoff and MaxBackoff bound the wait before retry n (from 0)
	// when the response has no Retry-After: a random time in
	// [0, min(MaxBackoff, BaseBackoff·2ⁿ)) (full jitter). Zero means
	// DefaultBaseBackoff and DefaultMaxBackoff; MaxBackoff below
	// BaseBackoff is raised to it.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter is the longest Retry-After honoured: a response asking
	// for a longer wait is returned to the caller at once. Zero means
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Budget caps a host's retries at this fraction of its requests over
	// the last 10 seconds (0.1: at most 10 % more load), with at least
	// one retry allowed in the window; 0 means no budget. Values outside
	// [0, 1] are clamped.
	Budget float64
}

// Defaults of RetryPolicy's zero fields.
const (
	DefaultBaseBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
)

// budgetWindow is how far back a host's retry budget looks, in one-second
// buckets.
const budgetWindow = 10

// retryOn reports whether p retries at all.
func (p *RetryPolicy) retryOn() bool { return p.MaxAttempts > 1 }

// resolved returns p with its defaults filled in and its values clamped.
func (p RetryPolicy) resolved() RetryPolicy {
	if p.MaxAttempts <= 1 {
		return RetryPolicy{}
	}
	if p.Statuses == nil {
		p.Statuses = []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}
	} else {
		p.Statuses = slices.Clone(p.Statuses)
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = DefaultBaseBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.BaseBackoff)
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if !(p.Budget > 0) {
		p.Budget = 0
	}
	p.Budget = min(p.Budget, 1)
	return p
}

// backoff returns the wait before retry n (from 0): full jitter.
func (p *RetryPolicy) backoff(n int) time.Duration {
	ceil := p.MaxBackoff
	if n < 62 {
		if d := p.BaseBackoff << n; d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceil)))
}

// parseRetryAfter reads a Retry-After value: delta-seconds or an
// HTTP-date, as a wait from now (never negative). ok is false when v is
// neither.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 63); err == nil {
		if n > math.MaxInt64/uint64(time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// RetryCause says why a request was sent again, as counted in Stats.
type RetryCause uint8

const (
	// RetryStale: it failed on a reused connection the server had closed
	// before any response byte; sent again once on a new connection.
	RetryStale RetryCause = iota
	// RetryStatus: its response status is one of RetryPolicy.Statuses.
	RetryStatus
	numRetryCauses
)

func (c RetryCause) String() string {
	if c == RetryStale {
		return "stale connection"
	}
	return "status"
}

// hostRetries is the retry state of one host: its pause and its budget,
// guarded by the policies' lock.
type hostRetries struct {
	pausedUntil time.Time
	pauses      uint64
	retries     [numRetryCauses]uint64
	refused     uint64 // retries the budget refused

	// The budget's window: requests (first attempts) and retries per
	// second, in a ring indexed by Unix second.
	sec      [budgetWindow]int64
	requests [budgetWindow]uint32
	retried  [budgetWindow]uint32
}

// bucket returns the ring index of now's second, clearing buckets of
// seconds that left the window.
func (r *hostRetries) bucket(now time.Time) int {
	s := now.Unix()
	i := int(uint64(s) % budgetWindow)
	if r.sec[i] != s {
		r.sec[i], r.requests[i], r.retried[i] = s, 0, 0
	}
	return i
}

// counted returns the requests and retries of the window ending now.
func (r *hostRetries) counted(now time.Time) (requests, retries float64) {
	s := now.Unix()
	for i := range budgetWindow {
		if s-r.sec[i] < budgetWindow && r.sec[i] <= s {
			requests += float64(r.requests[i])
			retries += float64(r.retried[i])
		}
	}
	return requests, retries
}

// takeBudget reports whether the host's budget has room for one more retry
// now, and counts it when it has.
func (r *hostRetries) takeBudget(budget float64, now time.Time) bool {
	if budget > 0 {
		requests, retries := r.counted(now)
		if retries >= 1 && retries+1 > budget*requests {
			r.refused++
			return false
		}
	}
	r.retried[r.bucket(now)]++
	r.retries[RetryStatus]++
	return true
}

// statusRetry decides whether the request whose attempt n (from 0) got
// resp is tried again, and how long to wait first. It counts the retry
// (or the budget's refusal) and pauses the host for a Retry-After. The
// caller drains resp and rewinds the body before the next attempt.
func (c *Client) statusRetry(req *Request, resp *Response, turn *hostTurn, n int) (wait time.Duration, retry bool) {
	rp := &c.retry
	if !rp.retryOn() || turn.h == nil || n+1 >= rp.MaxAttempts ||
		!slices.Contains(rp.Statuses, resp.StatusCode) || !req.isIdempotent() || !req.canReplay() {
		return 0, false
	}
	now := time.Now()
	after, hasAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if hasAfter && after > rp.MaxRetryAfter {
		turn.h.pause(now.Add(rp.MaxRetryAfter))
		return 0, false
	}
	if hasAfter {
		turn.h.pause(now.Add(after))
		wait = after
	} else {
		wait = rp.backoff(n)
	}
	if !turn.h.takeRetry(rp.Budget, now) {
		return 0, false
	}
	return wait, true
}

// pause holds back new requests to h until t (a Retry-After).
func (h *hostState) pause(t time.Time) {
	p := h.p
	p.mu.Lock()
	if t.After(h.retry.pausedUntil) {
		h.retry.pausedUntil = t
		h.retry.pauses++
	}
	p.mu.Unlock()
}

func (h *hostState) takeRetry(budget float64, now time.Time) bool {
	p := h.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return h.retry.takeBudget(budget, now)
}

// countStaleRetry counts a retry of a request that met a stale conn.
func (h *hostState) countStaleRetry() {
	p := h.p
	p.mu.Lock()
	h.retry.retries[RetryStale]++
	p.mu.Unlock()
}

// sleep waits d within ctx, or until the Client closes; op names the
// wait in a context error. Host-policy turns and retry backoffs wait here.
func (c *Client) sleep(ctx context.Context, d time.Duration, op string) error {
	if ctx.Err() != nil {
		return ctxErr(ctx, op)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, op)
	case <-c.done:
		return ErrClientClosed
	}
}

// dropResponse ends an exchange whose response is not wanted (a status
// retry): its body is drained so that the conn may be reused, or the conn
// is closed.
func (c *Client) dropResponse(ctx context.Context, ex exchange, resp *Response) {
	ex.cn.br.startBody(ex.framing, c.pool.lim.maxStreamBody, &resp.Trailer)
	c.abandon(ctx, ex)
}

// attempts is one request's retry bookkeeping across its attempts, kept
// by the ways in.
type attempts struct {
	n      int  // attempts begun
	stale  bool // the retry on a new connection after a stale one was used
	fresh  bool // the next attempt wants a new connection
	status int  // status retries made
}

// begin readies turn for the next attempt.
func (a *attempts) begin(turn *hostTurn) {
	*turn = hostTurn{retry: a.n > 0}
	a.n++
}

// retryAfterError ends an attempt that failed with err on cn and reports
// whether the request goes out again: once, on a new connection, when cn
// was a reused one the server had closed (see mayRetryStale).
func (c *Client) retryAfterError(a *attempts, cn *conn, req *Request, err error, turn *hostTurn) bool {
	h := turn.h
	turn.done(0, err)
	if a.stale || !c.mayRetryStale(cn, req, err) {
		return false
	}
	a.stale, a.fresh = true, true
	if h != nil {
		h.countStaleRetry()
	}
	return true
}

// retryAfterHead ends an attempt whose response head was read and
// reports whether the request goes out again for its status
// (Config.Retry). When it does, the response is dropped (its body drained
// so that the conn may be reused), the body rewound and the wait waited,
// within ctx; err is why the request then ends instead.
func (c *Client) retryAfterHead(ctx context.Context, a *attempts, req *Request, resp *Response, ex exchange, turn *hostTurn) (again bool, err error) {
	wait, again := c.statusRetry(req, resp, turn, a.status)
	turn.retrying = again
	turn.done(resp.StatusCode, nil)
	if !again {
		return false, nil
	}
	a.status++
	a.fresh = false
	c.dropResponse(ctx, ex, resp)
	if err := req.rewindBody(); err != nil {
		return true, err
	}
	return true, c.sleep(ctx, wait, "retry backoff")
}
