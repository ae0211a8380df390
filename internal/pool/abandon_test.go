// Callers that give up: a wait ended by the context as a conn or a dial
// slot is granted gives back what it was granted; Prewarm's reservations.

package pool_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAcquireWithAnEndedContextTakesNothing(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 1})
	c := h.acquire("a", false)
	h.p.Release(&c.Entry)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.p.Acquire(ctx, []byte("a"), false, nil)
	require.ErrorIs(t, err, context.Canceled)
	ks, _ := h.stats("a")
	assert.Equal(t, 1, ks.Idle, "the idle conn stays for others")
}

// The waiter's context ends and the conn is handed to it in the same
// instant: whichever the waiter sees first, the conn is either its own or
// back in the pool, and counted reused only when it was taken.
func TestAWaiterThatGivesUpAsAConnIsHandedOverLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 1})
		c := h.acquire("a", false)
		taken := 0
		for range 32 {
			c.Requests++
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan got, 1)
			h.start(ctx, "waiter", "a", false, out)
			cancel()
			h.p.Release(&c.Entry) // handed to the waiter, still queued
			g := <-out
			if g.err == nil {
				taken++
				require.Same(t, c, g.c)
			} else {
				require.ErrorIs(t, g.err, context.Canceled)
				ks, _ := h.stats("a")
				require.Equal(t, 1, ks.Idle, "the conn went back to the pool")
				c = h.acquire("a", false)
				taken++ // taken from the idle list: reused
			}
			require.Empty(t, h.p.CheckInvariants())
		}
		ks, _ := h.stats("a")
		assert.Equal(t, uint64(taken), ks.Reused)
		assert.Equal(t, uint64(1), ks.Created)
		h.p.Release(&c.Entry)
	})
}

// As above with a dial slot: a waiter that gives up as a slot frees gives
// the slot back rather than dialing.
func TestAWaiterThatGivesUpAsASlotFreesGivesItBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 1})
		for range 32 {
			c := h.acquire("a", false)
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan got, 1)
			h.start(ctx, "waiter", "a", false, out)
			cancel()
			h.p.CloseConn(&c.Entry, pool.Error) // the freed slot is granted to the waiter
			g := <-out
			if g.err == nil {
				h.p.CloseConn(&g.c.Entry, pool.Error)
			} else {
				require.ErrorIs(t, g.err, context.Canceled)
			}
			require.Empty(t, h.p.CheckInvariants())
			_, total := h.stats("")
			require.Zero(t, total.Open, "no slot kept by a caller who left")
		}
	})
}

func TestReserveWarmStaysWithinTheCaps(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  pool.Config
		want int
	}{
		{"idle cap", pool.Config{MaxIdle: 3}, 3},
		{"per-key cap", pool.Config{MaxIdle: 8, MaxPerKey: 2}, 2},
		{"total cap", pool.Config{MaxIdle: 8, MaxTotal: 4}, 4},
		{"no idle kept", pool.Config{}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			r, err := h.p.ReserveWarm([]byte("a"), nil, 5)
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Slots())
			for range r.Slots() {
				e, err := h.p.DialReserved(context.Background(), r)
				require.NoError(t, err)
				require.True(t, h.p.Release(e))
			}
			ks, _ := h.stats("a")
			assert.Equal(t, tt.want, ks.Idle)
			if tt.want > 0 {
				c := h.acquire("a", false)
				wasIdle, _ := c.WasIdle()
				assert.True(t, wasIdle, "the next caller takes a prewarmed conn")
				assert.Equal(t, tt.want, h.dials(), "and dials nothing")
				h.p.Release(&c.Entry)
			}
		})
	}
}

func TestWaitingCountsCallersAcrossKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxTotal: 1, MaxIdle: 1})
		c := h.acquire("a", false)
		out := make(chan got, 2)
		h.start(context.Background(), "b", "b", false, out)
		h.start(context.Background(), "c", "c", false, out)
		assert.Equal(t, 2, h.p.Waiting())
		h.p.CloseConn(&c.Entry, pool.Error)
		g := <-out
		require.Equal(t, "b", g.name)
		h.p.CloseConn(&g.c.Entry, pool.Error)
		g = <-out
		require.Equal(t, "c", g.name)
		h.p.Release(&g.c.Entry)
		assert.Zero(t, h.p.Waiting())
	})
}
