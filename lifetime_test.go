// MaxConnLifetime and LifetimeJitter: conns retire when too old, at
// spread-out times.

package asynchttp_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxConnLifetimeRetiresIdleConn(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnLifetime: 50 * time.Millisecond, IdleTimeout: time.Hour})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
	srv.WaitOpen(t, 0, 5*time.Second)
	assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseLifetime])
	_, _, err = get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Accepted())
}

func TestMaxConnLifetimeRetiresConnTooOldForReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: serveOK(nil)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnLifetime: 10 * time.Minute, IdleTimeout: time.Hour})
		defer c.Close()
		for range 3 {
			_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/")
			require.NoError(t, err)
			time.Sleep(6 * time.Minute)
		}
		// Requests at 0, 6 and 12 minutes: the conn made at 0 is too old at 12.
		assert.Equal(t, 2, srv.dialed)
		assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseLifetime])
	})
}

func TestLifetimeJitterSpreadsRetirement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		srv := &pipeServer{serve: serveOK(hold)}
		const n = 32
		c := asynchttp.New(asynchttp.Config{
			Dial: srv.dial, MaxConnLifetime: 10 * time.Minute, LifetimeJitter: 0.5, IdleTimeout: time.Hour,
		})
		defer c.Close()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1/hold")
				assert.NoError(t, err)
			})
		}
		synctest.Wait()
		close(hold)
		wg.Wait()
		require.Equal(t, n, c.Stats().Idle, "all made at the same instant")
		time.Sleep(5*time.Minute - time.Second)
		synctest.Wait()
		assert.Equal(t, n, c.Stats().Idle, "no lifetime is shorter than (1-jitter)·MaxConnLifetime")
		time.Sleep(2*time.Minute + 30*time.Second)
		synctest.Wait()
		mid := c.Stats().Idle
		assert.Greater(t, mid, 0, "some retire later")
		assert.Less(t, mid, n, "some retire earlier")
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		assert.Zero(t, c.Stats().Idle, "none outlives MaxConnLifetime")
	})
}
