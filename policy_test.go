// The host-policy seam: every way in asks the policy before an attempt
// takes a connection, and a refusal fails the call with no conn taken.

package asynchttp

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policyClient is a Client with a host-policy layer (every host gets the
// zero policy), closed and checked when the test ends. Make it before the
// test's servers so that they close first.
func policyClient(t *testing.T) *Client {
	t.Helper()
	snap := leakcheck.Take()
	c := New(Config{HostPolicy: func(string) HostPolicy { return HostPolicy{} }})
	t.Cleanup(func() {
		assert.Empty(t, c.pool.checkInvariants(), "pool invariants")
		require.NoError(t, c.Close())
		snap.Check(t)
	})
	return c
}

// turns returns how many turns host's policy state has seen and how many
// are in flight.
func turns(c *Client, host string) (entered uint64, active int) {
	p := c.policy.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[host]
	if h == nil {
		return 0, 0
	}
	return h.turns, h.active
}

// discardHandler is a Handler that reads and drops everything.
type discardHandler struct{}

func (discardHandler) OnStatus(*Response) Action  { return Continue }
func (discardHandler) OnHeaders(*Response) Action { return Continue }
func (discardHandler) OnBodyPart([]byte) Action   { return Continue }
func (discardHandler) OnComplete(*Response)       {}
func (discardHandler) OnError(error)              {}

func TestHostPolicyAdmitsEveryWayIn(t *testing.T) {
	c := policyClient(t)
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	newReq := func() *Request {
		req := AcquireRequest()
		req.SetRequestURI(srv.URL() + "/")
		return req
	}

	req, resp := newReq(), AcquireResponse()
	require.NoError(t, c.Do(ctx, req, resp))
	ReleaseRequest(req)
	ReleaseResponse(resp)

	req = newReq()
	r, err := c.Execute(ctx, req).Wait()
	require.NoError(t, err)
	ReleaseResponse(r)
	ReleaseRequest(req)

	req = newReq()
	r, err = c.ExecuteHandler(ctx, req, discardHandler{}).Wait()
	require.NoError(t, err)
	ReleaseResponse(r)
	ReleaseRequest(req)

	hreq, err := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/", nil)
	require.NoError(t, err)
	hresp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, hresp.Body)
	require.NoError(t, err)
	require.NoError(t, hresp.Body.Close())

	entered, active := turns(c, "http://"+srv.Addr())
	assert.Equal(t, uint64(4), entered, "one turn per attempt, by every way in")
	assert.Zero(t, active, "every turn ended")

	require.NoError(t, c.SetHostPolicy(srv.URL(), HostPolicy{Delay: time.Millisecond}))
	assert.Equal(t, HostPolicy{Delay: time.Millisecond}, c.Stats().Hosts["http://"+srv.Addr()].Policy, "the policy in force")
}

func TestHostPolicyRefusalTakesNoConnection(t *testing.T) {
	c := policyClient(t)
	srv := testserver.NewCounting(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the policy refuses an attempt whose context has ended
	req, resp := AcquireRequest(), AcquireResponse()
	defer ReleaseRequest(req)
	defer ReleaseResponse(resp)
	req.SetRequestURI(srv.URL() + "/")
	require.ErrorIs(t, c.Do(ctx, req, resp), context.Canceled)
	assert.Zero(t, c.Stats().Created)
	assert.Zero(t, srv.Accepted())
	entered, active := turns(c, "http://"+srv.Addr())
	assert.Equal(t, uint64(1), entered)
	assert.Zero(t, active, "the refused turn ended")
}

func TestSetHostPolicyRefusesBadValues(t *testing.T) {
	c := New(Config{})
	defer c.Close()
	for _, pol := range []HostPolicy{
		{MaxConns: -1}, {Rate: -1}, {Rate: math.NaN()}, {Rate: math.Inf(1)},
		{Burst: -2}, {Delay: -time.Second}, {DelayJitter: 1.5}, {DelayJitter: -0.1}, {DelayJitter: math.NaN()},
	} {
		assert.Error(t, c.SetHostPolicy("http://127.0.0.1:8080", pol), "%+v", pol)
	}
	assert.Error(t, c.SetHostPolicy("ftp://127.0.0.1/", HostPolicy{Rate: 1}), "a scheme other than http(s)")
	assert.Nil(t, c.policy.Load(), "nothing refused makes a policy layer")
}

func TestSetHostPolicyKeysByHostKey(t *testing.T) {
	c := New(Config{})
	defer c.Close()
	require.NoError(t, c.SetHostPolicy("https://API.example/some/path", HostPolicy{Rate: 3}))
	require.NoError(t, c.SetHostPolicy("http://127.0.0.1:8080", HostPolicy{Delay: time.Second}))
	p := c.policy.Load()
	require.NotNil(t, p)
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Equal(t, map[string]HostPolicy{
		"https://api.example:443": {Rate: 3},
		"http://127.0.0.1:8080":   {Delay: time.Second},
	}, p.overrides)
}

func TestHostPolicyStateIsDroppedWhenQuiet(t *testing.T) {
	c := New(Config{HostPolicy: func(string) HostPolicy { return HostPolicy{} }})
	defer c.Close()
	p := c.policy.Load()
	const n = 1000
	for i := range n {
		h, _, _, _, _ := p.enter([]byte(fmt.Sprintf("http://10.0.%d.%d:80", i/256, i%256)), false, false, time.Now())
		h.attemptSkipped(nil)
	}
	busy, _, _, _, _ := p.enter([]byte("http://10.1.0.1:80"), false, false, time.Now()) // a turn in flight keeps its host
	p.prune(time.Now().Add(policyLinger - time.Second))
	p.mu.Lock()
	assert.Len(t, p.hosts, n+1, "nothing is dropped before policyLinger")
	p.mu.Unlock()
	p.prune(time.Now().Add(policyLinger + time.Second))
	p.mu.Lock()
	assert.Len(t, p.hosts, 1, "quiet hosts are dropped, the busy one stays")
	assert.Equal(t, 1, p.peak, "the map was rebuilt at its new size")
	p.mu.Unlock()
	busy.attemptSkipped(nil)
}

func TestPolicyTotalsKeepCountingWhenAHostIsDropped(t *testing.T) {
	c := New(Config{HostPolicy: func(string) HostPolicy { return HostPolicy{} }})
	defer c.Close()
	p := c.policy.Load()
	h, _, _, _, _ := p.enter([]byte("http://10.0.0.1:80"), false, false, time.Now())
	p.mu.Lock()
	h.n = policyCounts{paceWaits: 3, paceWaitTime: time.Second, refused: 2}
	p.mu.Unlock()
	h.attemptSkipped(nil)
	before := c.Stats()
	p.prune(time.Now().Add(policyLinger + time.Second))
	after := c.Stats()
	assert.NotContains(t, after.Hosts, "http://10.0.0.1:80")
	assert.Equal(t, uint64(3), before.PolicyWaits)
	assert.Equal(t, before.PolicyWaits, after.PolicyWaits)
	assert.Equal(t, before.PolicyWaitTime, after.PolicyWaitTime)
	assert.Equal(t, before.PolicyRefusals, after.PolicyRefusals)
}

func TestAPanicInAHookEndsTheTurn(t *testing.T) {
	for _, how := range []string{"Do", "ExecuteHandler", "RoundTrip"} {
		t.Run(how, func(t *testing.T) {
			c := New(Config{
				HostPolicy: func(string) HostPolicy { return HostPolicy{Adaptive: true} },
				Dial:       func(context.Context, string, string) (net.Conn, error) { panic("dial hook") },
			})
			defer c.Close()
			func() {
				defer func() { recover() }()
				switch how {
				case "Do":
					req, resp := AcquireRequest(), AcquireResponse()
					defer ReleaseRequest(req)
					defer ReleaseResponse(resp)
					req.SetRequestURI("http://10.255.0.1/")
					c.Do(t.Context(), req, resp)
				case "ExecuteHandler":
					req, resp := AcquireRequest(), AcquireResponse()
					defer ReleaseRequest(req)
					defer ReleaseResponse(resp)
					req.SetRequestURI("http://10.255.0.1/")
					c.doHandler(t.Context(), req, resp, nopTestHandler{})
				default:
					hreq, _ := http.NewRequestWithContext(t.Context(), "GET", "http://10.255.0.1/", nil)
					c.RoundTrip(hreq)
				}
			}()
			p := c.policy.Load()
			p.mu.Lock()
			defer p.mu.Unlock()
			h := p.hosts["http://10.255.0.1:80"]
			require.NotNil(t, h)
			assert.Zero(t, h.active, "the turn ended")
			assert.Zero(t, h.adapt.inFlight)
		})
	}
}

type nopTestHandler struct{}

func (nopTestHandler) OnStatus(*Response) Action  { return Continue }
func (nopTestHandler) OnHeaders(*Response) Action { return Continue }
func (nopTestHandler) OnBodyPart([]byte) Action   { return Continue }
func (nopTestHandler) OnComplete(*Response)       {}
func (nopTestHandler) OnError(error)              {}

func TestRetryAndBreakerValuesAreClampedAsDocumented(t *testing.T) {
	c := New(Config{
		Retry:   RetryPolicy{MaxAttempts: 3, BaseBackoff: -time.Second, MaxBackoff: time.Millisecond, MaxRetryAfter: -1, Budget: 7},
		Breaker: BreakerPolicy{Failures: 2, Cooldown: -time.Second, MaxCooldown: time.Nanosecond},
	})
	defer c.Close()
	assert.Equal(t, RetryPolicy{MaxAttempts: 3, Statuses: []int{429, 503}, BaseBackoff: DefaultBaseBackoff,
		MaxBackoff: DefaultBaseBackoff, MaxRetryAfter: DefaultMaxRetryAfter, Budget: 1}, c.retry)
	assert.Equal(t, BreakerPolicy{Failures: 2, Cooldown: DefaultBreakerCooldown, MaxCooldown: DefaultBreakerCooldown}, c.breaker)
	assert.NotNil(t, c.policy.Load(), "retries and a breaker keep per-host state")

	nan := math.NaN()
	off := New(Config{Retry: RetryPolicy{MaxAttempts: 1, Budget: nan}, Breaker: BreakerPolicy{Failures: -1}})
	defer off.Close()
	assert.Equal(t, RetryPolicy{}, off.retry, "MaxAttempts ≤ 1: off")
	assert.Equal(t, BreakerPolicy{}, off.breaker, "Failures ≤ 0: off")
	assert.Nil(t, off.policy.Load(), "nothing on: no policy layer, nothing on Do's path")
	assert.Zero(t, RetryPolicy{MaxAttempts: 2, Budget: nan}.resolved().Budget)
	assert.Zero(t, RetryPolicy{MaxAttempts: 2, Budget: -1}.resolved().Budget)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "120": 2 * time.Minute, " 5 ": 5 * time.Second,
		"Thu, 03 Dec 2026 12:00:30 GMT":    30 * time.Second,
		"Thursday, 03-Dec-26 12:01:00 GMT": time.Minute,      // RFC 850
		"Thu Dec  3 12:00:10 2026":         10 * time.Second, // asctime
		"Thu, 03 Dec 2026 11:00:00 GMT":    0,                // past: at once
	} {
		got, ok := parseRetryAfter(v, now)
		assert.True(t, ok, v)
		assert.Equal(t, want, got, v)
	}
	for _, bad := range []string{"", "-1", "1.5", "soon", "Thu, 03 Dec 2026"} {
		_, ok := parseRetryAfter(bad, now)
		assert.False(t, ok, bad)
	}
	huge, ok := parseRetryAfter("99999999999999999", now)
	assert.True(t, ok)
	assert.Greater(t, huge, 1000*time.Hour, "no overflow")
}

func TestAnAttemptStartedBeforeAdaptiveWasSetIsNotCountedOut(t *testing.T) {
	c := New(Config{HostPolicy: func(string) HostPolicy { return HostPolicy{} }})
	defer c.Close()
	p := c.policy.Load()
	req := preparedRequest(t, "10.255.0.1")
	h, _, err := p.admit(t.Context(), req, false)
	require.NoError(t, err)
	turn := hostTurn{h: h, start: time.Now()}
	h.gotConn(&turn) // not adaptive yet: not counted in flight
	require.NoError(t, c.SetHostPolicy("http://10.255.0.1", HostPolicy{Adaptive: true}))
	turn.done(200, nil)
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Zero(t, h.adapt.inFlight, "it never counted in the new limit, so it is not taken out of it")
}
