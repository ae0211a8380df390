// The Limiter as a Client's Config.HostLimiter: the client consults it for
// every request and releases each admission when the request ends.

package asynchttpredis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpredis/redistest"
	"github.com/stretchr/testify/require"
)

func TestClientWithRedisLimiterKeepsTheCap(t *testing.T) {
	srv := redistest.Start(t)
	l := NewLimiter(newClient(t, srv), Options{MaxInFlight: 2, KeyPrefix: "client:"})
	defer l.Close()
	cs := newCountingServer(t, 20*time.Millisecond)
	c := asynchttp.New(asynchttp.Config{HostLimiter: l})
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := asynchttp.AcquireRequest(), asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(cs.URL + "/")
			errs <- c.Do(ctx, req, resp)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	require.Len(t, cs.arrivals, 24)
	require.LessOrEqual(t, cs.max, 2, "the server never sees more than the fleet cap")
	require.Equal(t, 2, cs.max, "and the cap is used")
	// Every admission was released: the host's lease set is empty again.
	n, err := newClient(t, srv).ZCard(ctx, "client:{"+cs.URL+"}:inflight").Result()
	require.NoError(t, err)
	require.Zero(t, n)
}
