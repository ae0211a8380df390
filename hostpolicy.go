// Host policies: HostPolicy, the per-host state that applies it, SetHostPolicy, and the registry of hosts that bounds that state.

package asynchttp

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynchttp/asynchttp/internal/shrink"
)

// HostPolicy steers the requests to one host. The zero HostPolicy steers
// nothing: the Config's caps apply.
type HostPolicy struct {
	// MaxConns overrides Config.MaxConnsPerHost for this host. Zero means
	// the Config's.
	MaxConns int

	// Rate caps request starts per second (a token bucket of Burst
	// tokens). Zero means no limit.
	Rate float64

	// Burst is the token bucket's size: how many requests may start at
	// once after a quiet spell. Zero means 1.
	Burst int

	// Delay is the least gap between two request starts. Zero means none.
	Delay time.Duration

	// DelayJitter lengthens each gap by up to this fraction of Delay, at
	// random, in [0, 1].
	DelayJitter float64

	// Adaptive adapts the host's concurrency (1..MaxConns, or the Config's
	// per-host cap) to observed latency and 429/503 answers.
	Adaptive bool
}

// clamped returns p with each out-of-range value brought into range: a
// negative MaxConns, Burst or Delay to 0, a negative, NaN or infinite
// Rate to 0 (no limit), DelayJitter into [0, 1] (NaN: 0). Policies from
// Config.HostPolicy are clamped; SetHostPolicy refuses them instead.
func (p HostPolicy) clamped() HostPolicy {
	p.MaxConns, p.Burst, p.Delay = max(p.MaxConns, 0), max(p.Burst, 0), max(p.Delay, 0)
	if !(p.Rate > 0) || math.IsInf(p.Rate, 0) {
		p.Rate = 0
	}
	if !(p.DelayJitter > 0) {
		p.DelayJitter = 0
	}
	p.DelayJitter = min(p.DelayJitter, 1)
	return p
}

// validate reports what is wrong with p, for SetHostPolicy.
func (p HostPolicy) validate() error {
	switch {
	case p.MaxConns < 0:
		return fmt.Errorf("MaxConns %d is negative", p.MaxConns)
	case p.Rate < 0 || math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0):
		return fmt.Errorf("Rate %v is not a finite number ≥ 0", p.Rate)
	case p.Burst < 0:
		return fmt.Errorf("Burst %d is negative", p.Burst)
	case p.Delay < 0:
		return fmt.Errorf("Delay %v is negative", p.Delay)
	case p.DelayJitter < 0 || p.DelayJitter > 1 || math.IsNaN(p.DelayJitter):
		return fmt.Errorf("DelayJitter %v is not in [0, 1]", p.DelayJitter)
	}
	return nil
}

// policies is the Client's host-policy layer: the state of each host it
// steers, made when the host first appears and dropped when the host has
// been quiet for a while (see prune). A Client without any policy has
// none, and its requests never reach this code.
type policies struct {
	c  *Client
	fn func(host string) HostPolicy // Config.HostPolicy; may be nil

	mu        sync.Mutex
	hosts     map[string]*hostState
	peak      int                   // len(hosts) at its largest since the map was made
	overrides map[string]HostPolicy // set by SetHostPolicy; they outlive their hosts' state
	gone      policyCounts          // the counters of the hosts dropped
}

// hostState is the policy state of one host key ("scheme://host:port").
type hostState struct {
	p   *policies
	key string

	// Guarded by p.mu.
	pol      HostPolicy
	turns    uint64    // turns entered: attempts the policy saw
	active   int       // turns in flight: the state is not dropped meanwhile
	lastUsed time.Time // the last turn's end
	pace     pacer
	adapt    *adaptive // nil unless pol.Adaptive
	// isAdaptive mirrors adapt != nil for gotConn, which then takes the
	// lock only for an adaptive host (it runs on every attempt).
	isAdaptive atomic.Bool
	proxied    bool // some of its requests go through a proxy: its pool keys have suffixes

	n     policyCounts
	retry hostRetries // RetryPolicy's pause and budget
	brk   hostBreaker // BreakerPolicy's state
}

// policyCounts are a host's policy counters, or the sum of those of the
// hosts dropped (kept so that the totals in Stats never go backwards).
type policyCounts struct {
	paceWaits    uint64        // turns that waited for Rate or Delay
	paceWaitTime time.Duration // their total wait
	refused      uint64        // turns refused by the policy or the caller's context while waiting
	admits       uint64        // requests Config.HostLimiter answered (admitted or refused)
	admitTime    time.Duration // the time it took
	admitRefused uint64        // requests it refused

	// Only in sums (policies.gone, Stats): kept in hostRetries and
	// hostBreaker while the host is known.
	retries       [numRetryCauses]uint64
	budgetRefused uint64
	pauses        uint64
	openings      uint64
	rejected      uint64
}

func (c *policyCounts) add(o *policyCounts) {
	c.paceWaits += o.paceWaits
	c.paceWaitTime += o.paceWaitTime
	c.refused += o.refused
	c.admits += o.admits
	c.admitTime += o.admitTime
	c.admitRefused += o.admitRefused
	for i := range c.retries {
		c.retries[i] += o.retries[i]
	}
	c.budgetRefused += o.budgetRefused
	c.pauses += o.pauses
	c.openings += o.openings
	c.rejected += o.rejected
}

// addTo adds c to the counters in hs.
func (c *policyCounts) addTo(hs *HostStats) {
	hs.PolicyWaits += c.paceWaits
	hs.PolicyWaitTime += c.paceWaitTime
	hs.PolicyRefusals += c.refused
	hs.Admissions += c.admits
	hs.AdmissionTime += c.admitTime
	hs.AdmissionRefusals += c.admitRefused
	hs.StaleRetries += c.retries[RetryStale]
	hs.StatusRetries += c.retries[RetryStatus]
	hs.RetryBudgetRefusals += c.budgetRefused
	hs.Pauses += c.pauses
	hs.BreakerOpenings += c.openings
	hs.BreakerRejects += c.rejected
}

// countsLocked returns all of h's counters.
func (h *hostState) countsLocked() policyCounts {
	c := h.n
	c.retries = h.retry.retries
	c.budgetRefused = h.retry.refused
	c.pauses = h.retry.pauses
	c.openings = h.brk.openings
	c.rejected = h.brk.rejected
	return c
}

// admitted counts one answer of Config.HostLimiter for h, which took d.
func (h *hostState) admitted(d time.Duration, err error) {
	p := h.p
	p.mu.Lock()
	h.n.admits++
	h.n.admitTime += d
	if err != nil {
		h.n.admitRefused++
	}
	p.mu.Unlock()
}

func newPolicies(c *Client) *policies {
	return &policies{c: c, fn: c.cfg.HostPolicy, hosts: make(map[string]*hostState)}
}

// policyLinger is how long the state of a host with no turn in flight is
// kept: a host that comes back within it keeps its rate, delay and
// counters.
const policyLinger = 2 * time.Minute

// admit finds the state of req's host and waits until one more attempt
// may start (its Rate and Delay, a Retry-After pause), or ctx ends, or the
// policy refuses it (an open breaker). retry says the attempt is not the
// request's first. It returns the state the attempt's turn reports to,
// and whether the attempt is the breaker's probe.
func (p *policies) admit(ctx context.Context, req *Request, retry bool) (*hostState, bool, error) {
	now := time.Now()
	h, b, made, probe, err := p.enter(req.hostKey(), req.proxy != nil, retry, now)
	if made {
		p.c.pool.core.RefreshKeyMax(h.key, req.proxy != nil) // its pool key may outlive an earlier state
	}
	if err == nil {
		err = ctx.Err()
		if err != nil {
			err = ctxErr(ctx, "host policy")
		} else if !b.start.IsZero() && b.start.After(now) {
			err = p.waitTurn(ctx, b.start)
			p.mu.Lock()
			h.n.paceWaits++
			h.n.paceWaitTime += time.Since(now)
			p.mu.Unlock()
		}
		if err != nil {
			p.mu.Lock()
			h.pace.cancel(&h.pol, b)
			h.n.refused++
			p.mu.Unlock()
		}
	}
	if err != nil {
		t := hostTurn{h: h, probe: probe}
		t.skip()
		return nil, false, err
	}
	return h, probe, nil
}

// enter returns the state of key, making it when key is new (made), with
// one more turn counted in flight. Unless the host's breaker refuses the
// turn (err), it books the turn's start when the host's policy paces
// requests or a Retry-After pauses it, and counts a first attempt in the
// retry budget's window.
func (p *policies) enter(key []byte, proxied, retry bool, now time.Time) (h *hostState, b booking, made, probe bool, err error) {
	p.mu.Lock()
	h = p.hosts[string(key)]
	if h == nil {
		h = &hostState{p: p, key: string(key)}
		h.setPolicyLocked(p.policyLocked(h.key))
		p.hosts[h.key] = h
		p.peak = max(p.peak, len(p.hosts))
		made = h.pol.MaxConns > 0 || h.pol.Adaptive
	}
	h.proxied = h.proxied || proxied
	h.turns++
	h.active++
	var changed bool
	if p.c.breaker.Failures > 0 {
		probe, changed, err = h.brk.gate(&p.c.breaker, h.key, now)
	}
	if err == nil {
		if paced(&h.pol) {
			b = h.pace.book(&h.pol, now)
		} else {
			h.pace.started(now)
		}
		if until := h.retry.pausedUntil; until.After(now) && until.After(b.start) {
			b.start = until
		}
		if !retry {
			h.retry.requests[h.retry.bucket(now)]++
		}
	}
	st, at := h.brk.state, h.brk.retryAt
	p.mu.Unlock()
	if changed {
		p.c.breakerChanged(h.key, st, at)
	}
	return h, b, made, probe, err
}

// setPolicyLocked puts pol in force for h, starting or stopping its
// adaptive limit.
func (h *hostState) setPolicyLocked(pol HostPolicy) {
	h.pol = pol
	h.pace.follow(&pol)
	defer func() { h.isAdaptive.Store(h.adapt != nil) }()
	switch {
	case !pol.Adaptive:
		h.adapt = nil
	case h.adapt == nil:
		h.adapt = newAdaptive(h.adaptiveMax())
	default:
		h.adapt.max = h.adaptiveMax()
		h.adapt.limit = min(h.adapt.limit, float64(h.adapt.max))
	}
}

// adaptiveMax is the highest adaptive limit of h: its MaxConns, else the
// Config's per-host cap, else DefaultAdaptiveMaxConns.
func (h *hostState) adaptiveMax() int {
	switch {
	case h.pol.MaxConns > 0:
		return h.pol.MaxConns
	case h.p.c.pool.lim.maxPerHost > 0:
		return h.p.c.pool.lim.maxPerHost
	}
	return DefaultAdaptiveMaxConns
}

// connLimit returns the cap on open connections of the pool key name
// ("scheme://host:port", with a proxy suffix): its host's adaptive limit
// or its policy's MaxConns, or 0 for the Config's. The pool asks it under
// its own lock.
func (p *policies) connLimit(name string) int {
	key, _, _ := strings.Cut(name, " ")
	p.mu.Lock()
	defer p.mu.Unlock()
	if h := p.hosts[key]; h != nil {
		if h.adapt != nil {
			return h.adapt.conns()
		}
		return h.pol.MaxConns
	}
	pol := p.policyLocked(key)
	if pol.Adaptive {
		return 1 // where a new adaptive state starts
	}
	return pol.MaxConns
}

// policyLocked returns the policy of key: its override, else
// Config.HostPolicy's, else the zero policy. A Config.HostPolicy that
// returns an invalid policy gets the zero policy instead (New cannot see
// it; SetHostPolicy refuses invalid ones).
func (p *policies) policyLocked(key string) HostPolicy {
	if pol, ok := p.overrides[key]; ok {
		return pol
	}
	if p.fn == nil {
		return HostPolicy{}
	}
	return p.fn(key).clamped()
}

// gotConn notes that t, a turn of h, holds a conn from now on.
func (h *hostState) gotConn(t *hostTurn) {
	if !h.isAdaptive.Load() {
		return
	}
	p := h.p
	p.mu.Lock()
	if h.adapt != nil {
		t.round, t.adapted = h.adapt.gotConn(), h.adapt
	}
	p.mu.Unlock()
}

// attemptDone ends a turn that reached the host (or failed trying): an
// adaptive limit learns from it, and so does the breaker.
func (h *hostState) attemptDone(t *hostTurn, status int, err error) {
	p := h.p
	now := time.Now()
	p.mu.Lock()
	changed := false
	if h.adapt != nil && t.adapted == h.adapt {
		changed = h.adapt.observe(t.round, t.start, now, status, err)
	}
	brkChanged := false
	if p.c.breaker.Failures > 0 {
		brkChanged = h.brk.observe(&p.c.breaker, t.probe, outcomeOf(status, err, t.retrying), now)
	}
	h.active--
	h.lastUsed = now
	proxied := h.proxied
	st, at := h.brk.state, h.brk.retryAt
	limit := 0
	if changed {
		limit = h.adapt.conns()
	}
	p.mu.Unlock()
	if changed {
		p.c.pool.core.RefreshKeyMax(h.key, proxied)
		if f := p.c.cfg.Events.HostLimitChanged; f != nil {
			p.c.pool.event(func() { f(h.key, limit) })
		}
	}
	if brkChanged {
		p.c.breakerChanged(h.key, st, at)
	}
}

// attemptSkipped ends a turn that never reached the host, or that a
// panic cut short.
func (h *hostState) attemptSkipped(t *hostTurn) {
	p := h.p
	p.mu.Lock()
	if h.adapt != nil && t != nil && t.adapted == h.adapt {
		h.adapt.inFlight--
	}
	if t != nil && t.probe {
		h.brk.probing = false // let another request probe
	}
	h.active--
	h.lastUsed = time.Now()
	p.mu.Unlock()
}

// prune drops the state of hosts quiet for policyLinger, and rebuilds the
// map once it holds under a quarter of its peak, so that a crawl over many
// hosts gives its memory back.
func (p *policies) prune(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, h := range p.hosts {
		if h.active == 0 && now.Sub(h.lastUsed) >= policyLinger &&
			h.brk.state == BreakerClosed && !h.retry.pausedUntil.After(now) {
			c := h.countsLocked()
			p.gone.add(&c)
			delete(p.hosts, key)
		}
	}
	p.hosts, p.peak = shrink.Map(p.hosts, p.peak)
}

// SetHostPolicy gives host its policy from now on, replacing the one it
// had (from Config.HostPolicy or an earlier call). host is a URL
// ("https://api.example/...") or a host key as in Stats.Hosts; the
// default port is implied. The override outlives the host's other state:
// it stays until replaced. An invalid policy (see HostPolicy) is refused
// with an error, and so is a malformed host.
func (c *Client) SetHostPolicy(host string, pol HostPolicy) error {
	if err := pol.validate(); err != nil {
		return fmt.Errorf("asynchttp: SetHostPolicy %s: %w", host, err)
	}
	key, err := c.hostKeyOf(host)
	if err != nil {
		return err
	}
	p := c.policyLayer()
	p.mu.Lock()
	if p.overrides == nil {
		p.overrides = make(map[string]HostPolicy)
	}
	p.overrides[key] = pol
	if h := p.hosts[key]; h != nil {
		h.setPolicyLocked(pol)
	}
	p.mu.Unlock()
	c.pool.core.RefreshKeyMax(key, true)
	return nil
}

// policyLayer returns the Client's host-policy layer, making it when the
// Client has none yet (a first SetHostPolicy).
func (c *Client) policyLayer() *policies {
	if p := c.policy.Load(); p != nil {
		return p
	}
	c.policy.CompareAndSwap(nil, newPolicies(c))
	return c.policy.Load()
}

// hostKeyOf returns the host key ("scheme://host:port") of a URL or of a
// host key.
func (c *Client) hostKeyOf(host string) (string, error) {
	req := AcquireRequest()
	defer ReleaseRequest(req)
	req.SetRequestURI(host)
	if err := req.prepare(); err != nil {
		return "", err
	}
	return string(req.hostKey()), nil
}

// fillStats adds the policy figures of each host it holds state for to s:
// to the host's entry in s.Hosts, made when the pool has none (a host
// whose requests all wait for their turn, or were refused), and to the
// totals.
func (p *policies) fillStats(s *Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gone.addTo(&s.HostStats)
	for key, h := range p.hosts {
		hs, ok := s.Hosts[key]
		if !ok {
			hs.ClosedBy = map[CloseReason]uint64{}
		}
		h.statsLocked(&hs, &s.HostStats)
		s.Hosts[key] = hs
	}
}

// statsLocked sets the policy figures of h in hs and adds its counters to
// total.
func (h *hostState) statsLocked(hs, total *HostStats) {
	hs.Policy = h.pol
	c := h.countsLocked()
	c.addTo(hs)
	c.addTo(total)
	if p := &h.p.c.breaker; p.Failures > 0 {
		hs.Breaker = h.brk.state
		if h.brk.state != BreakerClosed {
			hs.BreakerRetryAt = h.brk.retryAt
		}
	}
	if h.retry.pausedUntil.After(time.Now()) {
		hs.PausedUntil = h.retry.pausedUntil
	}
}
