// Config.Events: the callbacks for each conn's life, run outside the
// pool's lock, with panics recovered and counted.

package asynchttp_test

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventLog records pool events.
type eventLog struct {
	mu                          sync.Mutex
	created, acquired, released int
	reusedAcq                   int
	closed                      map[asynchttp.CloseReason]int
}

func (l *eventLog) events() asynchttp.Events {
	l.closed = map[asynchttp.CloseReason]int{}
	return asynchttp.Events{
		ConnCreated: func(asynchttp.ConnInfo) { l.mu.Lock(); l.created++; l.mu.Unlock() },
		ConnAcquired: func(_ asynchttp.ConnInfo, reused bool) {
			l.mu.Lock()
			l.acquired++
			if reused {
				l.reusedAcq++
			}
			l.mu.Unlock()
		},
		ConnReleased: func(asynchttp.ConnInfo) { l.mu.Lock(); l.released++; l.mu.Unlock() },
		ConnClosed: func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) {
			l.mu.Lock()
			l.closed[why]++
			l.mu.Unlock()
		},
	}
}

func TestEventsReportConnsRetiredByMaxRequestsPerConn(t *testing.T) {
	var log eventLog
	c := newClient(t, asynchttp.Config{MaxRequestsPerConn: 3, Events: log.events()})
	var mu sync.Mutex
	var closing []bool
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		closing = append(closing, r.Close)
		mu.Unlock()
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	for range 7 {
		_, _, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
	}
	assert.Equal(t, 3, srv.Accepted(), "3 + 3 + 1 requests")
	assert.Equal(t, []bool{false, false, true, false, false, true, false}, closing,
		"the request that retires a conn says Connection: close")
	st := c.Stats()
	assert.Equal(t, uint64(2), st.ClosedBy[asynchttp.CloseMaxRequests])

	log.mu.Lock()
	defer log.mu.Unlock()
	assert.Equal(t, 3, log.created)
	assert.Equal(t, 7, log.acquired)
	assert.Equal(t, 4, log.reusedAcq)
	assert.Equal(t, 7, log.released)
	assert.Equal(t, 2, log.closed[asynchttp.CloseMaxRequests])
}

// TestSlowEventCallbackDoesNotStallThePool: a ConnReleased callback that
// blocks holds up its own goroutine only.
func TestSlowEventCallbackDoesNotStallThePool(t *testing.T) {
	block := make(chan struct{})
	var first atomic.Bool
	c := newClient(t, asynchttp.Config{Events: asynchttp.Events{
		ConnReleased: func(asynchttp.ConnInfo) {
			if first.CompareAndSwap(false, true) {
				<-block
			}
		},
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	slow := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); slow <- err }()
	eventually(t, "first callback blocking", first.Load)
	for range 5 {
		_, _, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err, "other callers go on")
	}
	st := c.Stats() // the pool's lock is free
	assert.Equal(t, 1, st.InUse, "the blocked caller's conn")
	close(block)
	require.NoError(t, <-slow)
}

// TestPanickingEventCallbacksAreCounted: a panic in any Events callback is
// recovered and counted; no request fails and no conn is stranded.
func TestPanickingEventCallbacksAreCounted(t *testing.T) {
	boom := func() { panic("callback bug") }
	c := newClient(t, asynchttp.Config{MaxRequestsPerConn: 2, MaxConnsPerHost: 1, Events: asynchttp.Events{
		ConnCreated:  func(asynchttp.ConnInfo) { boom() },
		ConnAcquired: func(asynchttp.ConnInfo, bool) { boom() },
		ConnReleased: func(asynchttp.ConnInfo) { boom() },
		ConnClosed:   func(asynchttp.ConnInfo, asynchttp.CloseReason) { boom() },
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	for range 4 {
		_, _, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, "GET", srv.URL(), nil)
	require.NoError(t, err)
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	st := c.Stats()
	assert.Zero(t, st.InUse, "no conn stranded in use")
	// 3 conns created, 5 acquired, 5 released, 2 closed by MaxRequestsPerConn.
	assert.Equal(t, uint64(3+5+5+2), st.EventPanics)
}
