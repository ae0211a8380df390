// Per-host connection caps from HostPolicy.MaxConns, changed at runtime
// by SetHostPolicy, and AcquireTimeoutNew dialing past them: seen by a
// server that counts the requests in flight, under testing/synctest.

package asynchttp_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostPolicyMaxConnsOverridesTheConfigsCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{latency: func(string, int) time.Duration { return time.Second }}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 8,
			HostPolicy: func(h string) asynchttp.HostPolicy {
				if h == "http://10.255.0.1:80" {
					return asynchttp.HostPolicy{MaxConns: 2}
				}
				return asynchttp.HostPolicy{}
			}})
		defer c.Close()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { assert.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/")) })
			wg.Go(func() { assert.NoError(t, sendVia(t.Context(), c, "RoundTrip", "http://10.255.0.2/")) })
		}
		wg.Wait()
		assert.Equal(t, 2, srv.peakOf("10.255.0.1"), "the override")
		assert.Equal(t, 8, srv.peakOf("10.255.0.2"), "the Config's cap")
		st := c.Stats()
		assert.Equal(t, 2, st.Hosts["http://10.255.0.1:80"].ConnLimit)
		assert.Equal(t, 8, st.Hosts["http://10.255.0.2:80"].ConnLimit)
	})
}

func TestSetHostPolicyChangesTheCapForWaitersAlreadyQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{latency: func(string, int) time.Duration { return time.Second }}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 2})
		defer c.Close()
		const host = "10.255.0.1"
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { assert.NoError(t, sendVia(t.Context(), c, "Do", "http://"+host+"/")) })
		}
		synctest.Wait()
		require.Equal(t, 2, srv.peakOf(host))
		assert.Equal(t, 8, c.Stats().Hosts["http://"+host+":80"].Waiting)

		// Raised: three of the queued waiters dial at once.
		require.NoError(t, c.SetHostPolicy("http://"+host, asynchttp.HostPolicy{MaxConns: 5}))
		synctest.Wait()
		assert.Equal(t, 5, srv.peakOf(host))
		assert.Equal(t, 5, c.Stats().Hosts["http://"+host+":80"].ConnLimit)

		// Lowered: nothing in flight is cut; conns over the cap retire as
		// they are released, and from then on one request at a time.
		require.NoError(t, c.SetHostPolicy("http://"+host, asynchttp.HostPolicy{MaxConns: 1}))
		synctest.Wait()
		assert.Equal(t, 5, len(srv.times(host)), "the five in flight go on")
		time.Sleep(time.Second) // they answer; four of their conns retire
		synctest.Wait()
		srv.resetPeak(host)
		wg.Wait()
		assert.Equal(t, 1, srv.peakOf(host))
		st := c.Stats().Hosts["http://"+host+":80"]
		assert.Equal(t, uint64(4), st.ClosedBy[asynchttp.CloseOverLimit])
		assert.Equal(t, 1, st.Open)
		assert.Equal(t, 1, st.ConnLimit)
	})
}

func TestAcquireTimeoutNewDialsPastTheHostCapWithinTheTotal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{latency: func(string, int) time.Duration { return 10 * time.Second }}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1, MaxTotalConns: 3,
			AcquireTimeout: time.Second, AcquireTimeoutAction: asynchttp.AcquireTimeoutNew})
		defer c.Close()
		const url = "http://10.255.0.1/"
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- sendVia(t.Context(), c, "Do", url) })
		}
		synctest.Wait()
		assert.Equal(t, 1, srv.peakOf("10.255.0.1"))
		time.Sleep(time.Second) // the three waiters time out: two dial past the cap, the total holds the third
		synctest.Wait()
		assert.Equal(t, 3, srv.peakOf("10.255.0.1"), "never past MaxTotalConns")
		wg.Wait()
		close(errs)
		var failed int
		for err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, asynchttp.ErrTooManyConns)
				failed++
			}
		}
		assert.Equal(t, 1, failed, "the third waiter found the total full")
		assert.Equal(t, 11*time.Second, time.Since(start))
		st := c.Stats()
		assert.Equal(t, uint64(2), st.OverLimitDials)
		assert.Equal(t, uint64(2), st.Hosts["http://10.255.0.1:80"].OverLimitDials)
		assert.Equal(t, uint64(2), st.ClosedBy[asynchttp.CloseOverLimit], "released over the cap: retired")
		assert.Equal(t, 1, st.Open)
	})
}
