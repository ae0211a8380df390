// Helpers for the tests inside the package: a checked client, and pipe
// conns for driving the pool's acquire and release directly.

package asynchttp

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newCheckedClient is a Client closed (and checked) when the test ends. Make it
// before the test's servers so that they close first.
func newCheckedClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	snap := leakcheck.Take()
	c := New(cfg)
	t.Cleanup(func() {
		assert.Empty(t, c.pool.checkInvariants(), "pool invariants")
		require.NoError(t, c.Close())
		assert.Empty(t, c.pool.checkInvariants(), "pool invariants after Close")
		snap.Check(t)
	})
	return c
}

// pipeDials is a Config.Dial over net.Pipe conns whose far ends nobody
// serves: for the pool alone, with no traffic. close closes the far ends.
type pipeDials struct {
	mu   sync.Mutex
	ends []net.Conn
}

func (d *pipeDials) dial(context.Context, string, string) (net.Conn, error) {
	a, z := net.Pipe()
	d.mu.Lock()
	d.ends = append(d.ends, z)
	d.mu.Unlock()
	return a, nil
}

func (d *pipeDials) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, z := range d.ends {
		z.Close()
	}
}

// newPipeClient is a client whose dials are net.Pipe ends (no traffic): for
// driving acquire and release directly.
func newPipeClient(t *testing.T, cfg Config) *Client {
	var mu sync.Mutex
	var ends []net.Conn
	cfg.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		a, z := net.Pipe()
		mu.Lock()
		ends = append(ends, z)
		mu.Unlock()
		return a, nil
	}
	c := New(cfg)
	t.Cleanup(func() {
		assert.Empty(t, c.pool.checkInvariants())
		c.Close()
		mu.Lock()
		for _, z := range ends {
			z.Close()
		}
		mu.Unlock()
	})
	return c
}

// preparedRequest is a prepared GET to host, released when the test ends.
func preparedRequest(t *testing.T, host string) *Request {
	req := AcquireRequest()
	req.SetRequestURI("http://" + host + "/")
	require.NoError(t, req.prepare())
	t.Cleanup(func() { ReleaseRequest(req) })
	return req
}

// acquireResult is what one acquire started by queueAcquire returned.
type acquireResult struct {
	name string
	cn   *conn
	err  error
}

// queueAcquire starts acquire(req) for name in a goroutine and returns once it
// is queued (the pool's waiter count reaches n).
func queueAcquire(t *testing.T, ctx context.Context, c *Client, name string, req *Request, fresh bool, n int, out chan<- acquireResult) {
	go func() {
		cn, err := c.pool.acquire(ctx, req, fresh)
		out <- acquireResult{name, cn, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c.pool.waiting() == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s never queued", name)
		time.Sleep(100 * time.Microsecond) // polling, bounded by the deadline
	}
}

// nextAcquireResult returns the next acquire served, failing t after 10s.
func nextAcquireResult(t *testing.T, ch <-chan acquireResult) acquireResult {
	t.Helper()
	select {
	case g := <-ch:
		require.NoError(t, g.err, g.name)
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no waiter was served (a lost wake-up?)")
	}
	return acquireResult{}
}
