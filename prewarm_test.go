// Prewarm: dials up to the per-host cap ahead of a burst, and survives a
// panicking Config.Dial.

package asynchttp_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrewarmDialsUpToPerHostCap(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 3})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	n, err := c.Prewarm(testCtx(t), srv.URL(), 5)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "capped by MaxConnsPerHost")
	assert.Equal(t, 3, c.Stats().Idle)
	srv.WaitOpen(t, 3, 5*time.Second)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _, _, err := get(ctx, c, "GET", srv.URL()); assert.NoError(t, err) })
	}
	wg.Wait()
	assert.Equal(t, uint64(3), c.Stats().Created, "the burst dialed nothing")

	n, err = c.Prewarm(testCtx(t), "http://127.0.0.1:1", 2)
	require.Error(t, err, "nothing listens there")
	assert.Zero(t, n)
}

// TestPrewarmDialPanicReturnsPanicError: a Config.Dial that panics in one of
// Prewarm's dial goroutines makes Prewarm return a *PanicError instead of
// ending the process, and the other dials go on.
func TestPrewarmDialPanicReturnsPanicError(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var armed atomic.Bool
	armed.Store(true)
	var d net.Dialer
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 3, Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		if armed.CompareAndSwap(true, false) {
			panic("dial bug")
		}
		return d.DialContext(ctx, n, a)
	}})
	n, err := c.Prewarm(testCtx(t), srv.URL(), 3)
	var pe *asynchttp.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "dial bug", pe.Value)
	assert.Equal(t, 2, n)
	st := c.Stats()
	assert.Equal(t, 2, st.Idle)
	assert.Zero(t, st.Dialing)
}
