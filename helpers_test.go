// Helpers shared by the package's tests: a checked client, bounded contexts
// and waits, and one-call GETs through Do and RoundTrip.

package asynchttp_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/leakcheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// newClient returns a Client that is closed when the test ends. Make it
// before the test's servers, so that they are closed first; then the pool's
// invariants are checked, the client is closed, and goroutines and file
// descriptors must be back where they were.
func newClient(t *testing.T, cfg asynchttp.Config) *asynchttp.Client {
	t.Helper()
	snap := leakcheck.Take()
	c := asynchttp.New(cfg)
	t.Cleanup(func() {
		require.Empty(t, asynchttp.CheckInvariants(c), "pool invariants")
		require.NoError(t, c.Close())
		require.Empty(t, asynchttp.CheckInvariants(c), "pool invariants after Close")
		snap.Check(t)
	})
	return c
}

// testCtx is a context that ends with the test or after 20s, whichever
// comes first: no wait in a test is unbounded.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// get sends one request through Do and returns status and body.
func get(ctx context.Context, c *asynchttp.Client, method, url string) (int, string, error) {
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod(method)
	req.SetRequestURI(url)
	err := c.Do(ctx, req, resp)
	return resp.StatusCode, string(resp.Body()), err
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, what)
}

// longCtx is testCtx for the long load tests: it ends with the test or
// after d.
func longCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// via names the two synchronous ways in.
var via = []string{"Do", "RoundTrip"}

// fetch sends a GET through Do or RoundTrip (reading the whole body) and
// returns the status, the body and the first error met.
func fetch(ctx context.Context, c *asynchttp.Client, how, url string) (int, string, error) {
	if how == "Do" {
		return get(ctx, c, "GET", url)
	}
	hreq, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.RoundTrip(hreq)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// httpGet sends a GET through hc and returns the response and its whole
// body; the body is closed.
func httpGet(t *testing.T, hc *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), "GET", url, nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// checkPoolEmpty closes the idle conns and asserts that nothing is open,
// in use or waiting and that the accounting holds.
func checkPoolEmpty(t *testing.T, c *asynchttp.Client) {
	t.Helper()
	c.CloseIdleConnections()
	st := c.Stats()
	assert.Zero(t, st.Open, "open")
	assert.Zero(t, st.InUse, "in use")
	assert.Zero(t, st.Dialing, "dialing")
	assert.Zero(t, st.Waiting, "waiting")
	assert.Empty(t, asynchttp.CheckInvariants(c))
}

// waitChan waits for ch to deliver or close, failing t after 10s.
func waitChan(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
}

// recvWithin waits on ch for at most d and reports whether it was closed or
// received from.
func recvWithin[T any](ch <-chan T, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// zeros is an endless request body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// nopHandler reads a response and keeps nothing.
type nopHandler struct{}

func (nopHandler) OnStatus(*asynchttp.Response) asynchttp.Action  { return asynchttp.Continue }
func (nopHandler) OnHeaders(*asynchttp.Response) asynchttp.Action { return asynchttp.Continue }
func (nopHandler) OnBodyPart([]byte) asynchttp.Action             { return asynchttp.Continue }
func (nopHandler) OnComplete(*asynchttp.Response)                 {}
func (nopHandler) OnError(error)                                  {}
