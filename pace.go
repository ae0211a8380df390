// Rate and Delay of a HostPolicy: when the next request to a host may start, and the wait for that turn.

package asynchttp

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrRateLimited is the error of a request whose host's Rate or Delay (or
// a Retry-After pause, see RetryPolicy) would hold it past what the
// caller allows: at once when AcquireTimeout
// is negative, or wrapped in a *TimeoutError when its turn comes after
// the caller's deadline or after AcquireTimeout.
var ErrRateLimited = errors.New("asynchttp: host rate limit: no turn in time")

// pacer spaces the request starts of one host: a token bucket of Burst
// tokens refilled at Rate per second, and a least gap of Delay (plus up to
// DelayJitter of it) between two starts. A start is booked ahead: each
// caller learns at once when its turn comes, and the next caller's turn
// comes after it. Guarded by the policies' lock.
type pacer struct {
	tokens float64   // at time at
	at     time.Time // when tokens was last worked out; may lie ahead (booked)
	next   time.Time // the earliest start Delay allows
	last   time.Time // the latest start booked or made, paced or not
}

// booking is one start booked by pacer.book, for giving it back.
type booking struct {
	start          time.Time // zero: nothing was booked
	prevNext, next time.Time // pacer.next before and after the booking
}

// paced reports whether pol spaces request starts.
func paced(pol *HostPolicy) bool { return pol.Rate > 0 || pol.Delay > 0 }

// book books the next start allowed by pol at or after now.
func (pc *pacer) book(pol *HostPolicy, now time.Time) booking {
	b := booking{start: now, prevNext: pc.next}
	if pc.next.After(b.start) {
		b.start = pc.next
	}
	if pol.Rate > 0 {
		burst := float64(max(pol.Burst, 1))
		if pc.at.IsZero() {
			pc.tokens, pc.at = burst, now
		}
		from := b.start
		if pc.at.After(from) {
			from = pc.at // tokens are known from there on only
		}
		tokens := min(burst, pc.tokens+from.Sub(pc.at).Seconds()*pol.Rate)
		if tokens < 1 {
			from = from.Add(time.Duration((1 - tokens) / pol.Rate * float64(time.Second)))
			tokens = 1
		}
		b.start = from
		pc.tokens, pc.at = tokens-1, from
	}
	if pol.Delay > 0 {
		gap := pol.Delay
		if pol.DelayJitter > 0 {
			gap += time.Duration(rand.Float64() * pol.DelayJitter * float64(pol.Delay))
		}
		pc.next = b.start.Add(gap)
	}
	b.next = pc.next
	pc.started(b.start)
	return b
}

// started notes a start at now of a host whose policy does not pace it,
// so that a Delay set later counts from it.
func (pc *pacer) started(now time.Time) {
	if now.After(pc.last) {
		pc.last = now
	}
}

// follow applies a new policy: a Delay counts from the latest start, even
// one made before the host had a Delay (a robots.txt read, say).
func (pc *pacer) follow(pol *HostPolicy) {
	if pol.Delay > 0 && !pc.last.IsZero() {
		if at := pc.last.Add(pol.Delay); at.After(pc.next) {
			pc.next = at
		}
	}
}

// cancel gives back a start booked with b that will not happen: its token
// returns to the bucket, and its gap too when no later start was booked.
func (pc *pacer) cancel(pol *HostPolicy, b booking) {
	if b.start.IsZero() {
		return
	}
	if pol.Rate > 0 {
		pc.tokens = min(float64(max(pol.Burst, 1)), pc.tokens+1)
	}
	if pol.Delay > 0 && pc.next.Equal(b.next) {
		pc.next = b.prevNext // no start was booked after this one
	}
}

// waitTurn waits until start, within ctx and the Client's AcquireTimeout.
// A turn that comes too late fails at once, without waiting for it.
func (p *policies) waitTurn(ctx context.Context, start time.Time) error {
	d := time.Until(start)
	if d <= 0 {
		return nil
	}
	switch at := p.c.pool.lim.acquireTimeout; {
	case at < 0:
		return ErrRateLimited
	case at > 0 && d > at:
		return &TimeoutError{Op: "host policy", Err: ErrRateLimited}
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(start) {
		return &TimeoutError{Op: "host policy", Err: ErrRateLimited}
	}
	return p.c.sleep(ctx, d, "host policy")
}
