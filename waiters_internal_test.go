// Waiter order across hosts, driven through the pool directly.

package asynchttp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFreedSlotGoesToOldestWaiterAcrossHosts: under MaxTotalConns a
// freed slot goes to the oldest waiter of any host that may dial; a host
// held by its own MaxConnsPerHost is skipped and comes back, in its
// arrival order, when one of its own slots frees.
func TestFreedSlotGoesToOldestWaiterAcrossHosts(t *testing.T) {
	c := newPipeClient(t, Config{MaxTotalConns: 2, MaxConnsPerHost: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b, cc, d := preparedRequest(t, "10.0.0.1"), preparedRequest(t, "10.0.0.2"), preparedRequest(t, "10.0.0.3"), preparedRequest(t, "10.0.0.4")
	a1, err := c.pool.acquire(ctx, a, false)
	require.NoError(t, err)
	b1, err := c.pool.acquire(ctx, b, false)
	require.NoError(t, err)

	got := make(chan acquireResult, 8)
	queueAcquire(t, ctx, c, "A2", a, false, 1, got) // held by A's own cap (and the total)
	queueAcquire(t, ctx, c, "C1", cc, false, 2, got)
	queueAcquire(t, ctx, c, "D1", d, false, 3, got)
	queueAcquire(t, ctx, c, "A3-fresh", a, true, 4, got)

	c.pool.closeConn(b1, CloseError) // a total slot: A is at its cap, C is next
	g := nextAcquireResult(t, got)
	require.Equal(t, "C1", g.name)
	c.pool.release(g.cn) // idle: D evicts it
	g = nextAcquireResult(t, got)
	require.Equal(t, "D1", g.name)
	c.pool.closeConn(g.cn, CloseError)
	c.pool.closeConn(a1, CloseError) // A's own slot frees: A is back in the queue
	g = nextAcquireResult(t, got)
	require.Equal(t, "A2", g.name)
	a2 := g.cn
	c.pool.release(a2) // A3 is fresh: it replaces the idle conn with a new one
	g = nextAcquireResult(t, got)
	require.Equal(t, "A3-fresh", g.name)
	require.NotSame(t, a2, g.cn)
	c.pool.release(g.cn)
	require.Empty(t, c.pool.checkInvariants())
}
