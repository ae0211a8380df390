// Host policies: HostPolicy, the per-host state that applies it, SetHostPolicy, and the registry of hosts that bounds that state.

package asynchttp

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
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

// validate reports what is wrong with p, for New and SetHostPolicy.
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
}

func newPolicies(c *Client) *policies {
	return &policies{c: c, fn: c.cfg.HostPolicy, hosts: make(map[string]*hostState)}
}

// policyLinger is how long the state of a host with no turn in flight is
// kept: a host that comes back within it keeps its rate, delay and
// counters.
const policyLinger = 2 * time.Minute

// admit finds the state of req's host and waits until one more attempt
// may start, or ctx ends, or the policy refuses it. It returns the state
// the attempt's turn reports to.
func (p *policies) admit(ctx context.Context, req *Request) (*hostState, error) {
	h := p.enter(req.hostKey())
	if err := ctx.Err(); err != nil {
		h.attemptSkipped(nil)
		return nil, ctxErr(ctx, "host policy")
	}
	return h, nil
}

// enter returns the state of key, making it when key is new, with one
// more turn counted in flight.
func (p *policies) enter(key []byte) *hostState {
	p.mu.Lock()
	h := p.hosts[string(key)]
	if h == nil {
		h = &hostState{p: p, key: string(key)}
		h.pol = p.policyLocked(h.key)
		p.hosts[h.key] = h
		p.peak = max(p.peak, len(p.hosts))
	}
	h.turns++
	h.active++
	p.mu.Unlock()
	return h
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
	pol := p.fn(key)
	if pol.validate() != nil {
		return HostPolicy{}
	}
	return pol
}

// attemptDone ends a turn that reached the host (or failed trying).
func (h *hostState) attemptDone(t *hostTurn, status int, err error) {
	h.leave()
}

// attemptSkipped ends a turn that never reached the host.
func (h *hostState) attemptSkipped(t *hostTurn) {
	h.leave()
}

func (h *hostState) leave() {
	p := h.p
	p.mu.Lock()
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
		if h.active == 0 && now.Sub(h.lastUsed) >= policyLinger {
			delete(p.hosts, key)
		}
	}
	if p.peak > 64 && len(p.hosts) < p.peak/4 {
		m := make(map[string]*hostState, len(p.hosts))
		for k, h := range p.hosts {
			m[k] = h
		}
		p.hosts, p.peak = m, len(m)
	}
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
		h.pol = pol
	}
	p.mu.Unlock()
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
}
