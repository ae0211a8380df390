// A key's own cap: set when the key is made, raised and lowered at
// runtime; and dials past the cap when a wait times out (DialOnTimeout).

package pool_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewKeySetsTheKeysOwnCap(t *testing.T) {
	h := newHarness(t, pool.Config{MaxPerKey: 4, MaxIdle: 4, AcquireTimeout: -1,
		KeyMax: func(k *pool.Key) int {
			if k.Name() == "a" {
				return 1
			}
			return 0
		}})
	a := h.acquire("a", false)
	_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
	require.ErrorIs(t, err, pool.ErrFull, "a's own cap is 1")
	b1, b2 := h.acquire("b", false), h.acquire("b", false) // b has the pool's cap
	ks, _ := h.stats("a")
	assert.Equal(t, 1, ks.Max)
	ks, _ = h.stats("b")
	assert.Equal(t, 4, ks.Max)
	for _, c := range []*fakeConn{a, b1, b2} {
		h.p.Release(&c.Entry)
	}
}

// caps is a KeyMax whose caps a test sets by key name.
type caps struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *caps) set(p *pool.Pool, name string, n int, prefixed bool) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]int)
	}
	c.m[name] = n
	c.mu.Unlock()
	p.RefreshKeyMax(name, prefixed)
}

func (c *caps) keyMax(k *pool.Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, _, _ := strings.Cut(k.Name(), " ")
	return c.m[name]
}

func TestRaisingAKeysCapServesItsWaitersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cs caps
		h := newHarness(t, pool.Config{MaxPerKey: 1, MaxIdle: 4, KeyMax: cs.keyMax})
		a1 := h.acquire("a", false)
		out := make(chan got, 4)
		h.start(context.Background(), "a2", "a", false, out)
		h.start(context.Background(), "a3", "a", false, out)
		cs.set(h.p, "a", 3, false)
		synctest.Wait()
		require.Len(t, out, 2, "both waiters dial once the cap is 3")
		for range 2 {
			g := <-out
			require.NoError(t, g.err)
			h.p.Release(&g.c.Entry)
		}
		h.p.Release(&a1.Entry)
		ks, _ := h.stats("a")
		assert.Equal(t, 3, ks.Open)
		assert.Equal(t, 3, ks.Max)
	})
}

func TestLoweringAKeysCapRetiresConnsOnReleaseNotInUse(t *testing.T) {
	var cs caps
	h := newHarness(t, pool.Config{MaxPerKey: 4, MaxIdle: 4, KeyMax: cs.keyMax})
	c := []*fakeConn{h.acquire("a", false), h.acquire("a", false), h.acquire("a", false), h.acquire("a", false)}
	h.p.Release(&c[3].Entry) // one idle
	cs.set(h.p, "a", 2, false)
	assert.Equal(t, int32(1), c[3].closes.Load(), "the idle conn over the cap closes at once")
	for i := range 3 {
		assert.Zero(t, c[i].closes.Load(), "conns in use are never closed by a lower cap")
	}
	ks, _ := h.stats("a")
	assert.Equal(t, 3, ks.Open)
	assert.False(t, h.p.Release(&c[0].Entry), "3 open > 2: retired on release")
	assert.True(t, h.p.Release(&c[1].Entry), "2 open: kept")
	assert.True(t, h.p.Release(&c[2].Entry))
	assert.Equal(t, []pool.Reason{pool.OverCap, pool.OverCap}, h.reasons())
	ks, _ = h.stats("a")
	assert.Equal(t, 2, ks.Open)
	assert.Equal(t, uint64(2), ks.ClosedBy[pool.OverCap])

	cs.set(h.p, "a", 0, false) // back to the pool's cap
	ks, _ = h.stats("a")
	assert.Equal(t, 4, ks.Max)
}

func TestSetKeyMaxWithPrefixReachesTheHostThroughProxies(t *testing.T) {
	var cs caps
	h := newHarness(t, pool.Config{MaxPerKey: 4, MaxIdle: 4, AcquireTimeout: -1, KeyMax: cs.keyMax})
	for _, k := range []string{"http://h:80", "http://h:80 via http://p:8080", "http://h:8080"} {
		h.p.Release(&h.acquire(k, false).Entry)
	}
	cs.set(h.p, "http://h:80", 2, true)
	for k, want := range map[string]int{"http://h:80": 2, "http://h:80 via http://p:8080": 2, "http://h:8080": 4} {
		ks, _ := h.stats(k)
		assert.Equal(t, want, ks.Max, k)
	}
}

func TestDialOnTimeoutDialsPastTheKeysCapButNeverPastTheTotal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxTotal: 3, MaxPerKey: 1, MaxIdle: 2, AcquireTimeout: time.Second, DialOnTimeout: true})
		a1 := h.acquire("a", false)
		start := time.Now()
		a2 := h.acquire("a", false) // waits 1 s for a's slot, then dials past the cap
		assert.Equal(t, time.Second, time.Since(start))
		require.NotSame(t, a1, a2)
		b := h.acquire("b", false) // the third and last slot of the total
		_, err := h.p.Acquire(context.Background(), []byte("a"), false, nil)
		require.ErrorIs(t, err, pool.ErrWaitTimeout, "the total is full: no dial past it")
		ks, total := h.stats("a")
		assert.Equal(t, 2, ks.Open)
		assert.Equal(t, uint64(1), ks.Overflows)
		assert.Equal(t, uint64(1), total.Overflows)
		assert.Equal(t, 3, total.Open)
		assert.False(t, h.p.Release(&a2.Entry), "over a's cap: retired on release")
		assert.True(t, h.p.Release(&a1.Entry))
		h.p.Release(&b.Entry)
		assert.Equal(t, []pool.Reason{pool.OverCap}, h.reasons())
	})
}

func TestDialOnTimeoutEvictsAnotherKeysIdleConnAtTheTotal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, pool.Config{MaxTotal: 2, MaxPerKey: 1, MaxIdle: 2, AcquireTimeout: time.Second, DialOnTimeout: true})
		a1, b := h.acquire("a", false), h.acquire("b", false)
		h.p.Release(&b.Entry) // idle: the total is full, but b's idle conn may go
		a2 := h.acquire("a", false)
		assert.Equal(t, int32(1), b.closes.Load())
		assert.Equal(t, []pool.Reason{pool.Evicted}, h.reasons())
		h.p.Release(&a2.Entry)
		h.p.Release(&a1.Entry)
	})
}
