// The host-policy seam: every way in asks the policy before an attempt
// takes a connection, and a refusal fails the call with no conn taken.

package asynchttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingPolicy admits or refuses every attempt and records the hosts.
type recordingPolicy struct {
	mu     sync.Mutex
	hosts  []string
	refuse error
}

func (p *recordingPolicy) admit(_ context.Context, req *Request) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hosts = append(p.hosts, string(req.hostKey()))
	return p.refuse
}

func (p *recordingPolicy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...)
}

// policyClient is a Client with policy pol, closed and checked when the
// test ends. Make it before the test's servers so that they close first.
func policyClient(t *testing.T, pol hostPolicy) *Client {
	t.Helper()
	snap := leakcheck.Take()
	c := New(Config{})
	c.policy = pol
	t.Cleanup(func() {
		assert.Empty(t, c.pool.checkInvariants(), "pool invariants")
		require.NoError(t, c.Close())
		snap.Check(t)
	})
	return c
}

// discardHandler is a Handler that reads and drops everything.
type discardHandler struct{}

func (discardHandler) OnStatus(*Response) Action  { return Continue }
func (discardHandler) OnHeaders(*Response) Action { return Continue }
func (discardHandler) OnBodyPart([]byte) Action   { return Continue }
func (discardHandler) OnComplete(*Response)       {}
func (discardHandler) OnError(error)              {}

func TestHostPolicyAdmitsEveryWayIn(t *testing.T) {
	pol := &recordingPolicy{}
	c := policyClient(t, pol)
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

	want := "http://" + srv.Addr()
	assert.Equal(t, []string{want, want, want, want}, pol.seen(), "one admission per attempt, by every way in")
}

func TestHostPolicyRefusalTakesNoConnection(t *testing.T) {
	refused := errors.New("host on cool-down")
	c := policyClient(t, &recordingPolicy{refuse: refused})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, resp := AcquireRequest(), AcquireResponse()
	defer ReleaseRequest(req)
	defer ReleaseResponse(resp)
	req.SetRequestURI(srv.URL() + "/")
	require.ErrorIs(t, c.Do(ctx, req, resp), refused)
	assert.Zero(t, c.Stats().Created)
	assert.Zero(t, srv.Accepted())
}
