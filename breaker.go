// The circuit breaker per host: BreakerPolicy, its states, ErrHostUnavailable, and what counts as a host's failure.

package asynchttp

import (
	"context"
	"errors"
	"time"
)

// BreakerPolicy stops sending to a host that keeps failing
// (Config.Breaker). It is off unless Failures > 0.
//
// After Failures consecutive failures the host's breaker opens: its
// requests fail at once with a *HostUnavailableError (errors.Is
// ErrHostUnavailable) until Cooldown has passed. Then it is half-open:
// one request at a time goes through as a probe (the others still fail
// at once); a probe that succeeds closes the breaker, one that fails
// opens it again for twice the last cooldown, up to MaxCooldown.
//
// A failure is a dial error, a TLS or connection error, a timeout while
// sending or waiting for the response, a malformed response, or a 5xx
// status other than 501 — except an answer about to be retried under
// RetryPolicy (only the last try's status counts). Not failures: the
// caller's cancellation, the client's own limits (ErrTooManyConns, a wait
// for a slot timing out, ErrRateLimited, a response over a size limit),
// 429, and every status below 500; they reset the count of consecutive
// failures when a response head was read. Other hosts are never
// affected.
type BreakerPolicy struct {
	// Failures is the number of consecutive failures that opens the
	// breaker; 0: no breaker.
	Failures int
	// Cooldown is the first open period; zero means
	// DefaultBreakerCooldown. MaxCooldown caps its doubling; zero means
	// DefaultMaxBreakerCooldown, and one below Cooldown is raised to it.
	Cooldown    time.Duration
	MaxCooldown time.Duration
}

// Defaults of BreakerPolicy's zero fields.
const (
	DefaultBreakerCooldown    = 5 * time.Second
	DefaultMaxBreakerCooldown = 5 * time.Minute
)

func (p BreakerPolicy) resolved() BreakerPolicy {
	if p.Failures <= 0 {
		return BreakerPolicy{}
	}
	if p.Cooldown <= 0 {
		p.Cooldown = DefaultBreakerCooldown
	}
	if p.MaxCooldown <= 0 {
		p.MaxCooldown = DefaultMaxBreakerCooldown
	}
	p.MaxCooldown = max(p.MaxCooldown, p.Cooldown)
	return p
}

// BreakerState is the state of a host's circuit breaker.
type BreakerState uint8

const (
	BreakerClosed   BreakerState = iota // requests go through
	BreakerOpen                         // requests fail at once until the cooldown ends
	BreakerHalfOpen                     // one probe at a time goes through
)

func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "closed"
}

// ErrHostUnavailable is matched (errors.Is) by the *HostUnavailableError
// of a request its host's open breaker refused.
var ErrHostUnavailable = errors.New("asynchttp: host unavailable: circuit breaker open")

// HostUnavailableError is the error of a request refused by its host's
// circuit breaker. RetryAt is when the breaker lets a probe through (now
// or past while another probe is in flight).
type HostUnavailableError struct {
	Host    string // "scheme://host:port"
	RetryAt time.Time
}

func (e *HostUnavailableError) Error() string {
	return "asynchttp: host unavailable: " + e.Host + ": circuit breaker open until " + e.RetryAt.Format(time.RFC3339Nano)
}

func (e *HostUnavailableError) Is(target error) bool { return target == ErrHostUnavailable }

// hostBreaker is the breaker of one host, guarded by the policies' lock.
type hostBreaker struct {
	state    BreakerState
	failures int           // consecutive
	cooldown time.Duration // the current open period
	retryAt  time.Time
	probing  bool // a probe is in flight (half-open)
	openings uint64
	rejected uint64 // requests refused while open or half-open
}

// gate lets a request through or refuses it. A request let through while
// half-open is the probe.
func (b *hostBreaker) gate(bp *BreakerPolicy, key string, now time.Time) (probe, changed bool, err error) {
	switch b.state {
	case BreakerOpen:
		if now.Before(b.retryAt) {
			b.rejected++
			return false, false, &HostUnavailableError{Host: key, RetryAt: b.retryAt}
		}
		b.state, changed = BreakerHalfOpen, true
		fallthrough
	case BreakerHalfOpen:
		if b.probing {
			b.rejected++
			return false, changed, &HostUnavailableError{Host: key, RetryAt: b.retryAt}
		}
		b.probing = true
		return true, changed, nil
	}
	return false, false, nil
}

// observe takes the outcome of a request let through; it reports whether
// the state changed.
func (b *hostBreaker) observe(bp *BreakerPolicy, probe bool, o outcome, now time.Time) bool {
	switch {
	case o == outcomeFailure && probe:
		b.probing = false
		b.open(min(2*b.cooldown, bp.MaxCooldown), now)
		return true
	case o == outcomeFailure && b.state == BreakerClosed:
		if b.failures++; b.failures >= bp.Failures {
			b.open(bp.Cooldown, now)
			return true
		}
	case o == outcomeSuccess:
		b.failures = 0
		if probe {
			b.probing = false
			b.state, b.cooldown = BreakerClosed, 0
			return true
		}
	case probe: // neither: let another request probe
		b.probing = false
	}
	return false
}

func (b *hostBreaker) open(cooldown time.Duration, now time.Time) {
	b.state, b.cooldown, b.retryAt = BreakerOpen, cooldown, now.Add(cooldown)
	b.failures = 0
	b.openings++
}

// outcome classifies an attempt for the breaker.
type outcome uint8

const (
	outcomeNeutral outcome = iota
	outcomeSuccess
	outcomeFailure
)

// outcomeOf classifies an attempt that ended with status or err;
// retrying says its answer is about to be retried.
func outcomeOf(status int, err error, retrying bool) outcome {
	if err == nil {
		switch {
		case status == 0:
			return outcomeNeutral
		case retrying, status == 429:
			return outcomeNeutral
		case status >= 500 && status != 501:
			return outcomeFailure
		}
		return outcomeSuccess
	}
	var te *TimeoutError
	var le *LimitError
	var pe *PanicError
	var re *RequestError
	switch {
	case errors.Is(err, context.Canceled),
		errors.Is(err, ErrClientClosed), errors.Is(err, ErrTooManyConns), errors.Is(err, ErrTooManyPending),
		errors.Is(err, ErrRateLimited), errors.Is(err, ErrHostUnavailable), errors.Is(err, ErrInvalidRequest),
		errors.As(err, &le), errors.As(err, &pe), errors.As(err, &re):
		return outcomeNeutral
	case errors.As(err, &te) && (te.Op == "acquire" || te.Op == "host policy"):
		return outcomeNeutral // the caller's deadline while waiting here, not the host's fault
	}
	return outcomeFailure
}
