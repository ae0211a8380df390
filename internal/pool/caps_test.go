// Caps: per key, in total (with eviction of another key's idle conn), idle
// on offer, pending waiters; and the order in which idle conns are reused.

package pool_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxPerKeyFailsAtOnceWhenWaitingIsOff(t *testing.T) {
	h := newHarness(t, pool.Config{MaxPerKey: 2, MaxIdle: 2, AcquireTimeout: -1})
	a1, a2 := h.acquire("a", false), h.acquire("a", false)
	_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
	require.ErrorIs(t, err, pool.ErrFull)
	b := h.acquire("b", false) // another key is not held by a's cap
	ks, total := h.stats("a")
	assert.Equal(t, 2, ks.Open)
	assert.Equal(t, 2, ks.InUse)
	assert.Equal(t, 3, total.Open)
	h.p.Release(&a1.Entry)
	h.p.Release(&a2.Entry)
	h.p.Release(&b.Entry)
	assert.Equal(t, 3, h.dials())
}

func TestMaxTotalEvictsTheLeastRecentlyUsedIdleConnOfAnotherKey(t *testing.T) {
	h := newHarness(t, pool.Config{MaxTotal: 2, MaxIdle: 4})
	a1, a2 := h.acquire("a", false), h.acquire("a", false)
	require.True(t, h.p.Release(&a1.Entry))
	require.True(t, h.p.Release(&a2.Entry))
	b := h.acquire("b", false) // the total is full of a's idle conns: a1, idle longest, goes
	assert.Equal(t, []pool.Reason{pool.Evicted}, h.reasons())
	assert.Equal(t, int32(1), a1.closes.Load())
	assert.Zero(t, a2.closes.Load())
	_, total := h.stats("")
	assert.Equal(t, 2, total.Open)
	assert.Equal(t, uint64(1), total.ClosedBy[pool.Evicted])
	h.p.Release(&b.Entry)
}

func TestIdleCapIsCheckedWhenAConnIsOffered(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 1})
	a1, a2 := h.acquire("a", false), h.acquire("a", false)
	assert.True(t, h.p.Release(&a1.Entry), "under the idle cap: kept")
	assert.False(t, h.p.Release(&a2.Entry), "over the idle cap: closed")
	assert.Equal(t, []pool.Reason{pool.IdleCap}, h.reasons())
	ks, _ := h.stats("a")
	assert.Equal(t, 1, ks.Idle)
	assert.Equal(t, 1, ks.Open)
}

func TestMaxPendingRefusesTheWaiterOverTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 1, MaxPending: 1})
		a := h.acquire("a", false)
		out := make(chan got, 2)
		h.start(context.Background(), "first", "a", false, out)
		_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
		require.ErrorIs(t, err, pool.ErrTooManyWaiting)
		h.p.Release(&a.Entry)
		g := <-out
		require.NoError(t, g.err)
		assert.Same(t, a, g.c, "the released conn is handed to the waiter")
		assert.False(t, g.c.Reused(), "it served no request yet: not counted reused")
		h.p.Release(&g.c.Entry)
	})
}

func TestAcquireTimeoutEndsAWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 1, AcquireTimeout: time.Second})
		a := h.acquire("a", false)
		start := time.Now()
		_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
		require.ErrorIs(t, err, pool.ErrWaitTimeout)
		assert.Equal(t, time.Second, time.Since(start))
		ks, _ := h.stats("a")
		assert.Zero(t, ks.Waiting)
		h.p.Release(&a.Entry)
	})
}

func TestWaitersAreServedInArrivalOrderAcrossKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxTotal: 2, MaxPerKey: 1, MaxIdle: 1})
		ctx := context.Background()
		a1, b1 := h.acquire("a", false), h.acquire("b", false)
		out := make(chan got, 8)
		h.start(ctx, "a2", "a", false, out) // held by a's own cap (and the total)
		h.start(ctx, "c1", "c", false, out)
		h.start(ctx, "d1", "d", false, out)
		h.start(ctx, "a3-fresh", "a", true, out)

		next := func(want string) *fakeConn {
			t.Helper()
			waitBlocked()
			select {
			case g := <-out:
				require.NoError(t, g.err)
				require.Equal(t, want, g.name)
				return g.c
			default:
				t.Fatalf("%s not served", want)
			}
			return nil
		}
		h.p.CloseConn(&b1.Entry, pool.Error) // a total slot: a is at its cap, c is next
		c1 := next("c1")
		h.p.Release(&c1.Entry) // idle: d evicts it
		d1 := next("d1")
		h.p.CloseConn(&d1.Entry, pool.Error)
		h.p.CloseConn(&a1.Entry, pool.Error) // a's own slot frees: a is back in the queue
		a2 := next("a2")
		h.p.Release(&a2.Entry) // a3 is fresh: it replaces the idle conn with a new one
		a3 := next("a3-fresh")
		require.NotSame(t, a2, a3)
		h.p.Release(&a3.Entry)
	})
}

func TestReleaseHandsTheConnToTheOldestWaiterOfItsKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 1})
		ctx := context.Background()
		a := h.acquire("a", false)
		a.Requests++
		out := make(chan got, 2)
		h.start(ctx, "first", "a", false, out)
		h.start(ctx, "second", "a", false, out)
		h.p.Release(&a.Entry)
		g := <-out
		require.Equal(t, "first", g.name)
		assert.Same(t, a, g.c)
		assert.True(t, g.c.Reused(), "it served a request: reused")
		h.p.Release(&g.c.Entry)
		g = <-out
		require.Equal(t, "second", g.name)
		h.p.Release(&g.c.Entry)
		ks, _ := h.stats("a")
		assert.Equal(t, uint64(2), ks.Waits)
		assert.Equal(t, uint64(1), ks.Created)
	})
}

func TestIdleOrderLIFOAndFIFO(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fifo  bool
		first int // which of the two released conns comes back first
	}{
		{"LIFO reuses the most recently idled", false, 2},
		{"FIFO reuses the longest idle", true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, pool.Config{MaxIdle: 2, FIFO: tt.fifo})
			c1, c2 := h.acquire("a", false), h.acquire("a", false)
			h.p.Release(&c1.Entry)
			h.p.Release(&c2.Entry)
			got := h.acquire("a", false)
			assert.Equal(t, tt.first, got.id)
			assert.True(t, got.Reused())
			wasIdle, _ := got.WasIdle()
			assert.True(t, wasIdle)
			h.p.Release(&got.Entry)
		})
	}
}

func TestFreshAcquireSkipsIdleConnsAndReplacesTheOldestAtTheCap(t *testing.T) {
	h := newHarness(t, pool.Config{MaxPerKey: 2, MaxIdle: 2})
	c1, c2 := h.acquire("a", false), h.acquire("a", false)
	h.p.Release(&c1.Entry)
	h.p.Release(&c2.Entry)
	c3 := h.acquire("a", true)
	assert.Equal(t, 3, c3.id, "a new conn")
	assert.Equal(t, int32(1), c1.closes.Load(), "the oldest idle conn made room")
	assert.Equal(t, []pool.Reason{pool.Evicted}, h.reasons())
	h.p.Release(&c3.Entry)
}

func TestDeadIdleConnIsClosedAndAnotherTaken(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 2})
	c1, c2 := h.acquire("a", false), h.acquire("a", false)
	h.p.Release(&c1.Entry)
	h.p.Release(&c2.Entry)
	c2.dead.Store(true) // the peer closed it while idle
	got := h.acquire("a", false)
	assert.Same(t, c1, got)
	assert.Equal(t, []pool.Reason{pool.ServerClosed}, h.reasons())
	ks, _ := h.stats("a")
	assert.Equal(t, uint64(1), ks.Reused, "the dead conn is not counted reused")
	h.p.Release(&got.Entry)
}

func TestMaxIdleTotalClosesTheLeastRecentlyUsedIdleConnOfAnyKey(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 4, MaxIdleTotal: 2})
	a, b1, b2, c := h.acquire("a", false), h.acquire("b", false), h.acquire("b", false), h.acquire("c", false)
	assert.True(t, h.p.Release(&a.Entry))
	assert.True(t, h.p.Release(&b1.Entry))
	assert.True(t, h.p.Release(&c.Entry), "kept: a, idle the longest, goes instead")
	assert.Equal(t, int32(1), a.closes.Load())
	assert.True(t, h.p.Release(&b2.Entry))
	assert.Equal(t, int32(1), b1.closes.Load())
	assert.Equal(t, []pool.Reason{pool.IdleCap, pool.IdleCap}, h.reasons())
	_, total := h.stats("")
	assert.Equal(t, 2, total.Idle)
	assert.Equal(t, 2, total.Open)
	ks, _ := h.stats("c")
	assert.Equal(t, 1, ks.Idle)
}
