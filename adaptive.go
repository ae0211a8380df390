// HostPolicy.Adaptive: a host's connection limit moved by its latency and its 429/503 answers (AIMD).

package asynchttp

import (
	"errors"
	"time"
)

// DefaultAdaptiveMaxConns is the highest adaptive limit of a host when
// neither its HostPolicy's MaxConns nor Config.MaxConnsPerHost caps it.
const DefaultAdaptiveMaxConns = 32

// The adaptive limit's rules (AIMD, as TCP's congestion window):
//   - it is judged once per round: a round is the next limit's worth of
//     requests to start once the limit, since its last change, is in full
//     use, and it ends when all of them are answered — the slow ones
//     too, so that quick answers coming back first do not decide alone;
//   - a round whose mean time to the response head exceeds
//     adaptiveTolerance × the host's base latency (the least single answer
//     over the last adaptiveWindow answers) multiplies the limit by
//     adaptiveBackoff; a quicker round grows it: doubled until its first
//     decrease (slow start), by 1 after that;
//   - a 429 or 503 answer halves it at once, and a timeout multiplies it
//     by adaptiveBackoff at once, at most once per round trip: answers to
//     requests that started before the last decrease do not decrease it
//     again;
//   - it stays within [1, max]; the host's connection cap is its integer
//     part. A limit the load never fills is neither judged nor grown.
//
// A host whose latency jumps once more than n requests are in flight thus
// settles between n and n+1 connections, now and then a round at n+2.
const (
	adaptiveTolerance = 1.5
	adaptiveBackoff   = 0.9
	adaptiveWindow    = 64
)

// adaptive is the adaptive limit of one host, guarded by the policies'
// lock.
type adaptive struct {
	limit    float64
	max      int
	grown    bool          // a decrease happened: growth is additive
	base     time.Duration // the host's quick latency
	winMin   time.Duration // the least latency of the current window
	winN     int
	cut      time.Time // the last decrease
	changed  time.Time // the last change of the connection cap
	full     bool      // the cap was in full use since it changed: rounds run
	inFlight int       // attempts holding a conn

	round          uint32 // the current round's number
	target         int    // its size
	started, ended int    // its requests started, and answered
	answered       int    // those answered with a status
	sum            time.Duration
	late           int // requests started since the round filled
}

func newAdaptive(max int) *adaptive {
	return &adaptive{limit: 1, max: max, round: 1}
}

// conns returns the connection cap the limit gives now.
func (a *adaptive) conns() int { return int(a.limit) }

// gotConn counts an attempt that got its conn; it returns the number of
// the round the attempt belongs to, or 0.
func (a *adaptive) gotConn() uint32 {
	a.inFlight++
	if !a.full {
		if a.inFlight < a.conns() {
			return 0
		}
		a.full = true
		a.newRound()
	}
	if a.started < a.target {
		a.started++
		return a.round
	}
	// A member lost on the way (a panic in a hook) must not stall the
	// rounds for good.
	if a.late++; a.late > 8*a.target {
		a.newRound()
	}
	return 0
}

func (a *adaptive) newRound() {
	a.round++
	if a.round == 0 {
		a.round = 1
	}
	a.target, a.started, a.ended, a.answered, a.sum, a.late = a.conns(), 0, 0, 0, 0, 0
}

// observe moves the limit for one attempt of round that started (got its
// conn) at start and ended now with status or err. It reports whether the
// connection cap changed.
func (a *adaptive) observe(round uint32, start, now time.Time, status int, err error) bool {
	before := a.conns()
	a.inFlight--
	member := round != 0 && round == a.round
	if member {
		a.ended++
	}
	switch {
	case status == 429 || status == 503:
		a.decrease(start, now, 0.5)
	case err != nil:
		var te *TimeoutError
		if errors.As(err, &te) {
			a.decrease(start, now, adaptiveBackoff)
		}
	case status > 0:
		lat := now.Sub(start)
		a.sample(lat)
		if member {
			a.answered++
			a.sum += lat
		}
	}
	if member && a.ended == a.target {
		a.judge(start, now)
	}
	if a.conns() != before {
		a.changed, a.full = now, false
		return true
	}
	return false
}

// judge ends a round: slow, the limit decreases; quick, it grows.
func (a *adaptive) judge(start, now time.Time) {
	if a.answered > 0 {
		mean := a.sum / time.Duration(a.answered)
		switch {
		case float64(mean) > adaptiveTolerance*float64(a.base):
			a.decrease(start, now, adaptiveBackoff)
		case a.grown:
			a.limit = min(a.limit+1, float64(a.max))
		default:
			a.limit = min(a.limit*2, float64(a.max))
		}
	}
	a.newRound()
}

// sample records a latency: base is the least of the last window (and of
// the current one, as it fills), so that it follows a host whose quick
// latency changes for good.
func (a *adaptive) sample(lat time.Duration) {
	if a.winN == 0 || lat < a.winMin {
		a.winMin = lat
	}
	a.winN++
	if a.base == 0 || lat < a.base {
		a.base = lat
	}
	if a.winN == adaptiveWindow {
		a.base, a.winN = a.winMin, 0
	}
}

func (a *adaptive) decrease(start, now time.Time, by float64) {
	if start.Before(a.cut) {
		return // started before the last decrease: already accounted for
	}
	a.limit = max(1, a.limit*by)
	a.grown = true
	a.cut = now
}
