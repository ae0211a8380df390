// Fake conns and a pool harness shared by the pool's tests.

package pool_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/asynchttp/asynchttp/internal/pool"
	"github.com/stretchr/testify/require"
)

// fakeConn is a conn with no socket: it counts its closes and says it is
// alive until told otherwise.
type fakeConn struct {
	pool.Entry
	id     int
	closes atomic.Int32
	dead   atomic.Bool
}

func (c *fakeConn) Close()      { c.closes.Add(1) }
func (c *fakeConn) Alive() bool { return !c.dead.Load() }

// closeEvent is one call of Config.Closed.
type closeEvent struct {
	id  int
	key string
	why pool.Reason
}

// harness is a pool over fake conns that records dials and closes.
type harness struct {
	t *testing.T
	p *pool.Pool

	mu     sync.Mutex
	conns  []*fakeConn
	closed []closeEvent
}

// newHarness makes a pool with cfg, dialing fake conns unless cfg.Dial is
// set. When the test ends the pool's invariants are checked, it is shut,
// checked again, and no conn may have been closed twice.
func newHarness(t *testing.T, cfg pool.Config) *harness {
	t.Helper()
	h := &harness{t: t}
	if cfg.Dial == nil {
		cfg.Dial = func(context.Context, *pool.Key) (pool.Conn, error) { return h.newConn(), nil }
	}
	cfg.Closed = func(c pool.Conn, why pool.Reason) {
		fc := c.(*fakeConn)
		h.mu.Lock()
		h.closed = append(h.closed, closeEvent{fc.id, fc.Key(), why})
		h.mu.Unlock()
	}
	h.p = pool.New(cfg)
	t.Cleanup(func() {
		require.Empty(t, h.p.CheckInvariants(), "pool invariants")
		h.p.Shutdown()
		require.Empty(t, h.p.CheckInvariants(), "pool invariants after Shutdown")
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			require.LessOrEqual(t, c.closes.Load(), int32(1), "conn %d closed twice", c.id)
		}
	})
	return h
}

// newConn makes the next fake conn; a custom Dial may use it.
func (h *harness) newConn() *fakeConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &fakeConn{id: len(h.conns) + 1}
	h.conns = append(h.conns, c)
	return c
}

func (h *harness) dials() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// reasons returns the close reasons recorded so far, in order.
func (h *harness) reasons() []pool.Reason {
	h.mu.Lock()
	defer h.mu.Unlock()
	var rs []pool.Reason
	for _, e := range h.closed {
		rs = append(rs, e.why)
	}
	return rs
}

// acquire takes a conn of key, which must succeed.
func (h *harness) acquire(key string, fresh bool) *fakeConn {
	h.t.Helper()
	e, err := h.p.Acquire(context.Background(), []byte(key), fresh, nil)
	require.NoError(h.t, err)
	return e.Conn().(*fakeConn)
}

// got is the outcome of an acquire run in the background.
type got struct {
	name string
	c    *fakeConn
	err  error
}

// start runs an acquire of key in a goroutine, named for the test's
// checks, and returns once it blocks (inside a synctest bubble).
func (h *harness) start(ctx context.Context, name, key string, fresh bool, out chan<- got) {
	go func() {
		e, err := h.p.Acquire(ctx, []byte(key), fresh, nil)
		g := got{name: name, err: err}
		if err == nil {
			g.c = e.Conn().(*fakeConn)
		}
		out <- g
	}()
	waitBlocked()
}

// stats returns the stats of key (zero when unknown) and the totals.
func (h *harness) stats(key string) (ks, total pool.KeyStats) {
	total, _ = h.p.Stats(func(k string, s *pool.KeyStats) {
		if k == key {
			ks = *s
		}
	})
	return ks, total
}

// waitBlocked returns once every other goroutine of the synctest bubble
// is blocked: a background acquire has queued.
func waitBlocked() { synctest.Wait() }
