// Stats: a snapshot of the pool, in total and per host.

package asynchttp

import (
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
)

// HostStats is the state of the connections to one host.
type HostStats struct {
	Open    int // Dialing + InUse + Idle
	Dialing int // being dialed (TCP connect and TLS handshake)
	InUse   int // carrying a request or its response
	Idle    int // kept for reuse
	Waiting int // callers waiting for a connection to this host

	// Counters since the host entered the pool. A host with no connection
	// and no waiter stays for IdleTimeout (90 s by default; after Close,
	// for good), up to 256 such hosts, the least recently emptied going
	// first; then it is dropped with its counters. The totals in Stats
	// keep counting.
	Created uint64 // connections dialed successfully
	Reused  uint64 // requests sent on a connection that had served before
	Closed  uint64 // connections closed
	// ClosedBy counts closed connections by reason.
	ClosedBy map[CloseReason]uint64

	// Waits is the number of callers that had to wait for a connection
	// (a cap was reached) and got one; WaitTime is their total wait and
	// MaxWait the longest.
	Waits    uint64
	WaitTime time.Duration
	MaxWait  time.Duration

	// OldestConn and MeanConnAge are the age of the oldest open (dialed)
	// connection and the mean age of the open connections, at the time of
	// the snapshot. Zero when none is open.
	OldestConn  time.Duration
	MeanConnAge time.Duration

	// Policy is the HostPolicy in force for this host (the zero policy in
	// the totals, and for every host of a Client with no host policy).
	Policy HostPolicy
	// ConnLimit is the host's cap on open connections now: its adaptive
	// limit, its policy's MaxConns or MaxConnsPerHost; 0 means none (and
	// in the totals).
	ConnLimit int
	// OverLimitDials counts connections dialed past the host's cap after
	// AcquireTimeout (AcquireTimeoutNew).
	OverLimitDials uint64
	// PolicyWaits counts request attempts that waited for their turn under
	// the host's Rate or Delay or a Retry-After pause, and PolicyWaitTime
	// is their total wait.
	// PolicyRefusals counts requests that gave up or were refused while
	// at the policy: their context ended, or their turn came too late
	// (ErrRateLimited). A host's policy figures are kept while it has
	// requests, and for two minutes after its last; the totals keep
	// counting.
	PolicyWaits    uint64
	PolicyWaitTime time.Duration
	PolicyRefusals uint64
	// Admissions counts the requests Config.HostLimiter answered,
	// AdmissionTime the time its answers took (a shared limiter's round
	// trips and waits), and AdmissionRefusals the requests it refused.
	Admissions        uint64
	AdmissionTime     time.Duration
	AdmissionRefusals uint64

	// StaleRetries counts requests sent again on a new connection after a
	// reused one turned out closed, StatusRetries those sent again for
	// their status (Config.Retry), and RetryBudgetRefusals the status
	// retries the host's budget refused.
	StaleRetries        uint64
	StatusRetries       uint64
	RetryBudgetRefusals uint64
	// Pauses counts the Retry-After pauses of the host, and PausedUntil
	// is the end of the one in force (zero: none; not in the totals).
	Pauses      uint64
	PausedUntil time.Time
	// Breaker is the state of the host's circuit breaker (Config.Breaker;
	// closed in the totals), BreakerRetryAt when an open one lets a probe
	// through, BreakerOpenings how often it opened, and BreakerRejects the
	// requests it failed at once.
	Breaker         BreakerState
	BreakerRetryAt  time.Time
	BreakerOpenings uint64
	BreakerRejects  uint64
}

// Stats is a snapshot of a Client's pool. The embedded HostStats holds
// the totals over all hosts; its counters count since New.
type Stats struct {
	HostStats
	Hosts map[string]HostStats // keyed by "scheme://host:port"
	// EventPanics counts panics recovered from Config.Events callbacks.
	EventPanics uint64
	// DialWaits counts dials that waited for a slot under
	// MaxConcurrentDials, and DialWaitTime is their total wait.
	DialWaits    uint64
	DialWaitTime time.Duration
	// HandshakeWaits counts TLS handshakes that waited for a slot under
	// MaxConcurrentHandshakes, and HandshakeWaitTime is their total wait.
	HandshakeWaits    uint64
	HandshakeWaitTime time.Duration
}

// Stats returns a snapshot of the pool. It takes the pool's lock briefly
// and allocates the maps it returns.
func (c *Client) Stats() Stats {
	s := Stats{Hosts: make(map[string]HostStats)}
	total, panics := c.pool.core.Stats(func(key string, ks *pool.KeyStats) {
		s.Hosts[key] = hostStats(ks)
	})
	s.HostStats = hostStats(&total)
	s.EventPanics = panics
	s.DialWaits = c.dialSlots.waits.Load()
	s.DialWaitTime = time.Duration(c.dialSlots.waitTime.Load())
	s.HandshakeWaits = c.hsSlots.waits.Load()
	s.HandshakeWaitTime = time.Duration(c.hsSlots.waitTime.Load())
	if p := c.policy.Load(); p != nil {
		p.fillStats(&s)
	}
	return s
}

func hostStats(ks *pool.KeyStats) HostStats {
	return HostStats{
		Open:        ks.Open,
		Dialing:     ks.Dialing,
		InUse:       ks.InUse,
		Idle:        ks.Idle,
		Waiting:     ks.Waiting,
		Created:     ks.Created,
		Reused:      ks.Reused,
		Closed:      ks.Closed,
		ClosedBy:    reasonMap(&ks.ClosedBy),
		Waits:       ks.Waits,
		WaitTime:    ks.WaitTime,
		MaxWait:     ks.MaxWait,
		OldestConn:  ks.OldestConn,
		MeanConnAge: ks.MeanConnAge,

		ConnLimit:      ks.Max,
		OverLimitDials: ks.Overflows,
	}
}

func reasonMap(r *[numCloseReasons]uint64) map[CloseReason]uint64 {
	m := make(map[CloseReason]uint64)
	for i, n := range r {
		if n > 0 {
			m[CloseReason(i)] = n
		}
	}
	return m
}
