// Drain, CloseIdle and Shutdown: which conns they close now, which when
// released, and which a dial in flight produces.

package pool_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDrainClosesIdleConnsNowAndConnsInUseOnRelease(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 2})
	idle, busy := h.acquire("a", false), h.acquire("a", false)
	other := h.acquire("b", false)
	h.p.Release(&idle.Entry)
	require.True(t, h.p.Drain("a"))
	assert.Equal(t, int32(1), idle.closes.Load())
	assert.True(t, busy.Drained())
	assert.Equal(t, pool.Drained, h.p.LastRequest(&busy.Entry))
	assert.False(t, h.p.Release(&busy.Entry))
	assert.True(t, h.p.Release(&other.Entry), "another key is not drained")
	assert.Equal(t, []pool.Reason{pool.Drained, pool.Drained}, h.reasons())

	fresh := h.acquire("a", false)
	assert.False(t, fresh.Drained(), "conns dialed after the drain are not affected")
	h.p.Release(&fresh.Entry)
}

func TestDrainReportsWhetherTheKeyWasInUse(t *testing.T) {
	h := newHarness(t, pool.Config{})
	assert.False(t, h.p.Drain("never"))
	c := h.acquire("a", false)
	h.p.Release(&c.Entry) // closed: MaxIdle 0; the key lingers, empty
	assert.False(t, h.p.Drain("a"), "a lingering key has nothing to drain")
}

func TestDrainDuringADialDrainsTheConnItMakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h *harness
		gate := make(chan struct{})
		first := true
		h = newHarness(t, pool.Config{MaxIdle: 2, Dial: func(ctx context.Context, k *pool.Key) (pool.Conn, error) {
			if first {
				first = false
				<-gate
			}
			return h.newConn(), nil
		}})
		out := make(chan got, 1)
		h.start(context.Background(), "dialing", "a", false, out)
		other := h.acquire("a", false) // gives the key a conn, so Drain sees it
		require.True(t, h.p.Drain("a"))
		close(gate)
		g := <-out
		require.NoError(t, g.err)
		assert.True(t, g.c.Drained(), "reserved before the drain: drained when it arrives")
		assert.False(t, h.p.Release(&g.c.Entry))
		assert.False(t, h.p.Release(&other.Entry))
	})
}

func TestCloseIdleClosesOnlyIdleConns(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 2})
	idle, busy := h.acquire("a", false), h.acquire("b", false)
	h.p.Release(&idle.Entry)
	h.p.CloseIdle()
	assert.Equal(t, []pool.Reason{pool.IdleClosed}, h.reasons())
	assert.True(t, h.p.Release(&busy.Entry))
}

func TestShutdownFailsWaitersAndClosesConnsOnRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 2})
		busy, idle := h.acquire("a", false), h.acquire("b", false)
		h.p.Release(&idle.Entry)
		out := make(chan got, 1)
		h.start(context.Background(), "waiter", "a", false, out)
		h.p.Shutdown()
		g := <-out
		require.ErrorIs(t, g.err, pool.ErrClosed)
		assert.Equal(t, int32(1), idle.closes.Load())
		assert.False(t, h.p.Release(&busy.Entry))
		assert.Equal(t, []pool.Reason{pool.PoolClosed, pool.PoolClosed}, h.reasons())
		_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
		require.ErrorIs(t, err, pool.ErrClosed)
	})
}

func TestShutdownStopsADialInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h *harness
		h = newHarness(t, pool.Config{Dial: func(ctx context.Context, k *pool.Key) (pool.Conn, error) {
			dctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if !h.p.Inflight().Track(&cancel) {
				return nil, errors.New("shut")
			}
			defer h.p.Inflight().Untrack(&cancel)
			<-dctx.Done()
			return nil, dctx.Err()
		}})
		out := make(chan got, 1)
		h.start(context.Background(), "dialing", "a", false, out)
		h.p.Shutdown()
		g := <-out
		require.ErrorIs(t, g.err, pool.ErrClosed, "the dial's error gives way to the shutdown")
		_, total := h.stats("")
		assert.Zero(t, total.Open)
	})
}

func TestSetupFailureClosesTheNewConn(t *testing.T) {
	refused := errors.New("refused")
	var created int
	h := newHarness(t, pool.Config{
		Setup:   func(context.Context, pool.Conn) error { return refused },
		Created: func(pool.Conn) { created++ },
	})
	_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
	require.ErrorIs(t, err, refused)
	assert.Equal(t, 1, created)
	assert.Equal(t, []pool.Reason{pool.Error}, h.reasons())
	_, total := h.stats("")
	assert.Equal(t, uint64(1), total.Created)
	assert.Zero(t, total.Open)
}

func TestEventPanicsAreRecoveredAndCounted(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 1, Created: func(pool.Conn) { panic("boom") }})
	c := h.acquire("a", false)
	h.p.EventHolding(&c.Entry, func() { panic("boom") })
	require.True(t, h.p.Release(&c.Entry), "the conn survives a panicking event")
	_, panics := h.p.Stats(nil)
	assert.Equal(t, uint64(2), panics)
}

func TestDetachFreesTheSlotsWithoutClosing(t *testing.T) {
	h := newHarness(t, pool.Config{MaxPerKey: 1, AcquireTimeout: -1})
	c := h.acquire("a", false)
	require.True(t, h.p.Detach(&c.Entry, pool.NotReusable))
	assert.False(t, h.p.Detach(&c.Entry, pool.NotReusable), "only once")
	assert.Zero(t, c.closes.Load(), "the caller owns the socket now")
	next := h.acquire("a", false) // the slot is free
	h.p.Release(&next.Entry)
	ks, _ := h.stats("a")
	assert.Equal(t, uint64(1), ks.ClosedBy[pool.NotReusable])
}
