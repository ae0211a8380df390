// Permit accounting: random, seeded, bounded interleavings of acquire,
// release, close, drain, cancel and failed dials, with the invariants
// checked after every step and the slots all back at the end.

package pool_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errDialRefused = errors.New("dial refused")

func TestPermitAccountingHoldsUnderRandomInterleavings(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runInterleaving(t, seed) })
		})
	}
}

// runInterleaving drives one pool from several goroutines, each with its
// own seeded random source, under the fake clock. Each step sleeps a
// random (fake) while, so the goroutines' steps interleave differently
// for every seed yet the same way for the same seed.
func runInterleaving(t *testing.T, seed uint64) {
	const workers, steps, keys = 6, 120, 4
	var h *harness
	var dmu sync.Mutex
	drng := rand.New(rand.NewPCG(seed, 99))
	h = newHarness(t, pool.Config{
		MaxTotal: 5, MaxPerKey: 2, MaxIdle: 1, MaxPending: 3,
		IdleTimeout: 40 * time.Millisecond, Lifetime: 200 * time.Millisecond, Jitter: 0.3,
		MaxRequests: 4, MaxLingering: 2, Linger: 100 * time.Millisecond,
		Rand: func() float64 { dmu.Lock(); defer dmu.Unlock(); return drng.Float64() },
		Dial: func(ctx context.Context, k *pool.Key) (pool.Conn, error) {
			dmu.Lock()
			r := drng.IntN(10)
			dmu.Unlock()
			if r == 0 {
				return nil, errDialRefused
			}
			time.Sleep(time.Duration(r) * time.Millisecond) // a dial takes a while
			return h.newConn(), nil
		},
	})
	check := func() {
		if s := h.p.CheckInvariants(); s != "" {
			t.Errorf("seed %d: %s", seed, s)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range steps {
				key := []byte(fmt.Sprint("k", rng.IntN(keys)))
				ctx, cancel := context.WithCancel(context.Background())
				switch rng.IntN(6) {
				case 0: // a caller with a short deadline
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(5))*time.Millisecond)
				case 1: // a caller that cancels while it may be waiting
					d := time.Duration(rng.IntN(5)) * time.Millisecond
					time.AfterFunc(d, cancel)
				}
				e, err := h.p.Acquire(ctx, key, rng.IntN(8) == 0, nil)
				check()
				if err != nil {
					cancel()
					if !errors.Is(err, errDialRefused) && !errors.Is(err, pool.ErrTooManyWaiting) && ctx.Err() == nil {
						t.Errorf("seed %d: acquire: %v", seed, err)
					}
					continue
				}
				c := e.Conn().(*fakeConn)
				time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond) // in use
				switch r := rng.IntN(20); {
				case r < 3:
					h.p.CloseConn(e, pool.Error)
				case r == 3:
					h.p.Drain(string(key))
					c.Requests++
					h.p.Release(e)
				case r == 4:
					c.dead.Store(true) // found dead when next taken
					c.Requests++
					h.p.Release(e)
				case r == 5:
					h.p.ReapOnce(time.Now())
					c.Requests++
					h.p.Release(e)
				default:
					c.Requests++
					h.p.Release(e)
				}
				cancel()
				check()
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	check()
	_, total := h.stats("")
	t.Logf("created %d, reused %d, waits %d, closed by %v", total.Created, total.Reused, total.Waits, total.ClosedBy)
	assert.NotZero(t, total.Waits, "the caps made callers wait")
	assert.NotZero(t, total.Reused, "idle conns were reused")
	assert.Zero(t, total.InUse, "every conn is back")
	assert.Zero(t, total.Dialing)
	assert.Zero(t, total.Waiting)
	assert.Equal(t, total.Idle, total.Open, "what is open is idle")
	assert.LessOrEqual(t, total.Open, 5)
	require.Equal(t, total.Created, total.Closed+uint64(total.Open), "every conn made is open or counted closed")
	assert.Equal(t, int(total.Created), h.dials(), "each dial counted once")
	h.mu.Lock()
	closedNow := len(h.closed)
	h.mu.Unlock()
	assert.Equal(t, int(total.Closed), closedNow, "each close reported once")
}
