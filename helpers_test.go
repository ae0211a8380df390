// Helpers shared by the package's tests.

package asynchttp_test

import (
	"context"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/leakcheck"
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
