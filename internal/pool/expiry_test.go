// Retirement: lifetime with jitter, Keep-Alive and idle timeouts, request
// counts, the reaper's pass, and how long empty keys linger.

package pool_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLifetimeIsShortenedByItsJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Lifetime 10s less up to half of it: a draw of 0.5 makes 7.5s.
		h := newHarness(t, pool.Config{MaxIdle: 1, Lifetime: 10 * time.Second, Jitter: 0.5,
			Rand: func() float64 { return 0.5 }})
		c := h.acquire("a", false)
		assert.Equal(t, c.CreatedAt().Add(7500*time.Millisecond), c.RetireAt())
		assert.Equal(t, pool.NumReasons, h.p.LastRequest(&c.Entry))
		h.p.Release(&c.Entry)

		time.Sleep(7 * time.Second)
		again := h.acquire("a", false)
		require.Same(t, c, again, "still within its lifetime")
		time.Sleep(time.Second)
		assert.Equal(t, pool.Lifetime, h.p.LastRequest(&again.Entry), "the request now going out is its last")
		assert.False(t, h.p.Release(&again.Entry), "past its lifetime: closed on release")
		assert.Equal(t, []pool.Reason{pool.Lifetime}, h.reasons())
	})
}

func TestJitterIsClampedAndNeverLengthensALifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxIdle: 1, Lifetime: 10 * time.Second, Jitter: 3,
			Rand: func() float64 { return 0.25 }})
		c := h.acquire("a", false)
		assert.Equal(t, c.CreatedAt().Add(7500*time.Millisecond), c.RetireAt(), "jitter 3 is clamped to 1")
		h.p.Release(&c.Entry)
	})
}

func TestIdleConnPastItsLifetimeIsNotReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxIdle: 1, Lifetime: time.Minute, IdleTimeout: time.Hour})
		c := h.acquire("a", false)
		h.p.Release(&c.Entry)
		time.Sleep(time.Minute)
		fresh := h.acquire("a", false)
		assert.NotSame(t, c, fresh)
		assert.Equal(t, []pool.Reason{pool.Lifetime}, h.reasons())
		h.p.Release(&fresh.Entry)
	})
}

func TestKeepAliveShorterThanIdleTimeoutRetiresTheConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxIdle: 2, IdleTimeout: time.Minute})
		short, long := h.acquire("a", false), h.acquire("a", false)
		short.KeepAlive = 2 * time.Second // the peer keeps it idle 2s (less a margin)
		h.p.Release(&short.Entry)
		h.p.Release(&long.Entry)
		time.Sleep(2 * time.Second)
		h.p.ReapOnce(time.Now())
		assert.Equal(t, int32(1), short.closes.Load(), "retired by its Keep-Alive")
		assert.Zero(t, long.closes.Load(), "IdleTimeout not reached")
		time.Sleep(58 * time.Second)
		h.p.ReapOnce(time.Now())
		assert.Equal(t, int32(1), long.closes.Load(), "retired by IdleTimeout")
		assert.Equal(t, []pool.Reason{pool.IdleTimeout, pool.IdleTimeout}, h.reasons())
	})
}

func TestKeepAliveLongerThanIdleTimeoutDoesNotExtendIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxIdle: 1, IdleTimeout: time.Second})
		c := h.acquire("a", false)
		c.KeepAlive = time.Hour
		h.p.Release(&c.Entry)
		time.Sleep(time.Second)
		fresh := h.acquire("a", false)
		assert.NotSame(t, c, fresh, "expired at IdleTimeout")
		h.p.Release(&fresh.Entry)
	})
}

func TestMaxRequestsRetiresTheConn(t *testing.T) {
	h := newHarness(t, pool.Config{MaxIdle: 1, MaxRequests: 2})
	c := h.acquire("a", false)
	assert.Equal(t, pool.NumReasons, h.p.LastRequest(&c.Entry))
	c.Requests++
	require.True(t, h.p.Release(&c.Entry))
	c = h.acquire("a", false)
	assert.Equal(t, pool.MaxRequests, h.p.LastRequest(&c.Entry), "its second request is its last")
	c.Requests++
	assert.False(t, h.p.Release(&c.Entry))
	assert.Equal(t, []pool.Reason{pool.MaxRequests}, h.reasons())
}

func TestReapPeriodFollowsTheShortestTimeout(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  pool.Config
		want time.Duration
	}{
		{"none", pool.Config{}, time.Second},
		{"idle timeout", pool.Config{IdleTimeout: 2 * time.Second}, 500 * time.Millisecond},
		{"lifetime shorter", pool.Config{IdleTimeout: 2 * time.Second, Lifetime: 400 * time.Millisecond}, 100 * time.Millisecond},
		{"floor", pool.Config{IdleTimeout: time.Millisecond}, 5 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, pool.New(tt.cfg).ReapPeriod())
		})
	}
}

func TestEmptyKeyLingersThenIsForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxIdle: 1, IdleTimeout: 10 * time.Second, Linger: 30 * time.Second})
		c := h.acquire("a", false)
		h.p.CloseConn(&c.Entry, pool.Error)
		known, active := h.p.Keys()
		assert.Equal(t, 1, known, "an empty key lingers with its counters")
		assert.Zero(t, active)
		ks, _ := h.stats("a")
		assert.Equal(t, uint64(1), ks.ClosedBy[pool.Error])

		time.Sleep(29 * time.Second)
		h.p.ReapOnce(time.Now())
		known, _ = h.p.Keys()
		assert.Equal(t, 1, known)
		time.Sleep(time.Second)
		h.p.ReapOnce(time.Now())
		known, _ = h.p.Keys()
		assert.Zero(t, known, "forgotten after Linger")
		_, total := h.stats("")
		assert.Equal(t, uint64(1), total.ClosedBy[pool.Error], "the totals keep counting")
	})
}

func TestLingeringKeysAreCapped(t *testing.T) {
	var forgotten []string
	h := newHarness(t, pool.Config{MaxLingering: 2, ForgetKey: func(k *pool.Key) { forgotten = append(forgotten, k.Name()) }})
	for _, key := range []string{"a", "b", "c"} {
		c := h.acquire(key, false)
		h.p.Release(&c.Entry) // MaxIdle 0: closed, the key is empty
	}
	known, active := h.p.Keys()
	assert.Equal(t, 2, known)
	assert.Zero(t, active)
	assert.Equal(t, []string{"a"}, forgotten, "the least recently emptied goes first")
}

func TestALingeringKeyComesBackWithItsData(t *testing.T) {
	made := 0
	h := newHarness(t, pool.Config{NewKey: func(k *pool.Key, hint any) { made++; k.Data = hint }})
	c := h.acquire("a", false)
	assert.Nil(t, c.KeyData())
	h.p.Release(&c.Entry)
	e, err := h.p.Acquire(t.Context(), []byte("a"), false, "ignored")
	require.NoError(t, err)
	assert.Equal(t, 1, made, "the lingering key is found again")
	h.p.Release(e)
}
