// HostPolicy's Rate and Delay, measured where the requests arrive: under
// testing/synctest, through Do, Execute and RoundTrip alike.

package asynchttp_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendVia sends one GET through Do, Execute or RoundTrip.
func sendVia(ctx context.Context, c *asynchttp.Client, how, url string) error {
	switch how {
	case "Execute":
		req := asynchttp.AcquireRequest()
		req.SetRequestURI(url)
		f := c.Execute(ctx, req)
		resp, err := f.Wait()
		asynchttp.ReleaseRequest(req)
		if resp != nil {
			asynchttp.ReleaseResponse(resp)
		}
		return err
	default:
		_, _, err := fetch(ctx, c, how, url)
		return err
	}
}

var ways = []string{"Do", "Execute", "RoundTrip"}

func TestRateHoldsRequestStartsToTheRate(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &timedServer{}
				c := asynchttp.New(asynchttp.Config{Dial: srv.dial,
					HostPolicy: func(string) asynchttp.HostPolicy { return asynchttp.HostPolicy{Rate: 20, Burst: 4} }})
				defer c.Close()
				const n = 80
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						for range n / 8 {
							assert.NoError(t, sendVia(t.Context(), c, how, "http://10.255.0.1/"))
						}
					})
				}
				wg.Wait()
				at := srv.times("10.255.0.1")
				require.Equal(t, n, len(at))
				// The burst goes at once, then 20 per second.
				span := at[n-1].Sub(at[0]).Seconds()
				rate := float64(n-4) / span
				assert.InDelta(t, 20, rate, 2, "requests per second after the burst (span %.2fs)", span)
				for i := range at {
					j := i
					for j < len(at) && at[j].Sub(at[i]) < time.Second {
						j++
					}
					assert.LessOrEqual(t, j-i, 20+4, "requests in the 1 s window from %v", at[i].Sub(at[0]))
				}
				st := c.Stats()
				hs := st.Hosts["http://10.255.0.1:80"]
				assert.Equal(t, asynchttp.HostPolicy{Rate: 20, Burst: 4}, hs.Policy)
				assert.Equal(t, uint64(n-4), hs.PolicyWaits, "every request after the burst waited")
				assert.Greater(t, hs.PolicyWaitTime, time.Duration(0))
			})
		})
	}
}

func TestDelaySpacesRequestStartsWithItsJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial})
		defer c.Close()
		require.NoError(t, c.SetHostPolicy("http://10.255.0.1", asynchttp.HostPolicy{Delay: 100 * time.Millisecond, DelayJitter: 0.5}))
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { assert.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/")) })
		}
		wg.Wait()
		at := srv.times("10.255.0.1")
		require.Len(t, at, 20)
		spread := false
		for i := 1; i < len(at); i++ {
			gap := at[i].Sub(at[i-1])
			assert.GreaterOrEqual(t, gap, 100*time.Millisecond)
			assert.LessOrEqual(t, gap, 150*time.Millisecond)
			spread = spread || gap != at[1].Sub(at[0])
		}
		assert.True(t, spread, "the jitter varies the gaps")
	})
}

func TestAPacedHostNeverDelaysAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostPolicy: func(h string) asynchttp.HostPolicy {
			if h == "http://10.255.0.1:80" {
				return asynchttp.HostPolicy{Rate: 1}
			}
			return asynchttp.HostPolicy{}
		}})
		defer c.Close()
		start := time.Now()
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { assert.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/")) })
		}
		synctest.Wait() // four of them wait for their turn
		for range 5 {
			require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.2/"))
		}
		assert.Zero(t, time.Since(start), "the other host's requests went at once")
		wg.Wait()
		assert.Equal(t, 4*time.Second, time.Since(start))
	})
}

func TestAWaiterThatGivesUpFreesItsTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{}
		lim := newCountingLimiter(0)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostLimiter: lim,
			HostPolicy: func(string) asynchttp.HostPolicy { return asynchttp.HostPolicy{Delay: time.Second} }})
		defer c.Close()
		start := time.Now()
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/")) // at 0; the next turn is at 1 s
		for _, how := range ways {
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- sendVia(ctx, c, how, "http://10.255.0.1/") }()
			time.Sleep(200 * time.Millisecond)
			cancel()
			err := <-errc
			require.ErrorIs(t, err, context.Canceled, how)
		}
		// The canceled callers' turns are free again: the next caller goes at 1 s.
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/"))
		assert.Equal(t, time.Second, time.Since(start), "not 4 s: the canceled turns were given back")
		at := srv.times("10.255.0.1")
		require.Len(t, at, 2)
		assert.Equal(t, time.Second, at[1].Sub(at[0]))
		acq, rel, twice, held, _ := lim.counts()
		assert.Equal(t, 2, acq, "the limiter never saw the callers that gave up waiting for their turn")
		assert.Equal(t, acq, rel)
		assert.Zero(t, twice)
		assert.Zero(t, held)
		assert.Equal(t, uint64(3), c.Stats().Hosts["http://10.255.0.1:80"].PolicyRefusals)
	})
}

func TestATurnPastTheDeadlineOrAcquireTimeoutFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{}
		pol := func(string) asynchttp.HostPolicy { return asynchttp.HostPolicy{Rate: 1} }
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostPolicy: pol, AcquireTimeout: 500 * time.Millisecond})
		defer c.Close()
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/"))
		start := time.Now()
		err := sendVia(t.Context(), c, "Do", "http://10.255.0.1/") // its turn is 1 s away
		require.ErrorIs(t, err, asynchttp.ErrRateLimited)
		var te *asynchttp.TimeoutError
		require.True(t, errors.As(err, &te))
		assert.Zero(t, time.Since(start), "failed at once")

		c2 := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostPolicy: pol})
		defer c2.Close()
		require.NoError(t, sendVia(t.Context(), c2, "Do", "http://10.255.0.2/"))
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err = sendVia(ctx, c2, "RoundTrip", "http://10.255.0.2/")
		require.ErrorIs(t, err, asynchttp.ErrRateLimited)
		assert.Zero(t, time.Since(start))
		// The refused turn was given back: the next one comes at 1 s.
		require.NoError(t, sendVia(t.Context(), c2, "Do", "http://10.255.0.2/"))
		assert.Equal(t, time.Second, time.Since(start))

		c3 := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostPolicy: pol, AcquireTimeout: -1})
		defer c3.Close()
		require.NoError(t, sendVia(t.Context(), c3, "Do", "http://10.255.0.3/"))
		err = sendVia(t.Context(), c3, "Do", "http://10.255.0.3/")
		require.ErrorIs(t, err, asynchttp.ErrRateLimited)
		require.False(t, errors.As(err, &te), "negative AcquireTimeout: no wait, no timeout")
	})
}

func TestInvalidPoliciesAreClampedFromConfigAndRefusedAtRuntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{}
		nan := func() float64 { var z float64; return z / z }()
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostPolicy: func(string) asynchttp.HostPolicy {
			return asynchttp.HostPolicy{MaxConns: -2, Rate: nan, Burst: -1, Delay: -time.Second, DelayJitter: 7}
		}})
		defer c.Close()
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/"))
		assert.Equal(t, asynchttp.HostPolicy{DelayJitter: 1}, c.Stats().Hosts["http://10.255.0.1:80"].Policy)
		for _, bad := range []asynchttp.HostPolicy{{Rate: -1}, {Rate: nan}, {DelayJitter: 1.5}, {MaxConns: -1}, {Burst: -1}, {Delay: -1}} {
			assert.Error(t, c.SetHostPolicy("http://10.255.0.1", bad), "%+v", bad)
		}
	})
}

var _ = http.StatusOK

func TestADelaySetLaterCountsFromTheLastStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostPolicy: func(string) asynchttp.HostPolicy { return asynchttp.HostPolicy{} }})
		defer c.Close()
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/robots.txt"))
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, c.SetHostPolicy("http://10.255.0.1", asynchttp.HostPolicy{Delay: time.Second}))
		require.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/"))
		at := srv.times("10.255.0.1")
		require.Len(t, at, 2)
		assert.Equal(t, time.Second, at[1].Sub(at[0]), "the delay counts from the start made before it was set")
	})
}
