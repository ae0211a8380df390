// The circuit breaker per host (Config.Breaker): it opens after the
// consecutive failures, fails calls at once, lets one probe through when
// half-open, doubles its cooldown on a failed probe and closes on a good
// one; other hosts are never affected — under testing/synctest.

package asynchttp_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type breakerEvent struct {
	state asynchttp.BreakerState
	after time.Duration // retryAt from the test's start
}

func TestBreakerOpensProbesDoublesAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var healthy atomic.Bool
		srv := &timedServer{status: func(host string, _ int) int {
			if host == "10.255.0.1" && !healthy.Load() {
				return 500
			}
			return 200
		}}
		start := time.Now()
		var mu sync.Mutex
		var events []breakerEvent
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial,
			Breaker: asynchttp.BreakerPolicy{Failures: 3, Cooldown: time.Second, MaxCooldown: 3 * time.Second},
			Events: asynchttp.Events{BreakerChanged: func(host string, st asynchttp.BreakerState, retryAt time.Time) {
				assert.Equal(t, "http://10.255.0.1:80", host)
				mu.Lock()
				events = append(events, breakerEvent{st, retryAt.Sub(start)})
				mu.Unlock()
			}}})
		defer c.Close()
		const url = "http://10.255.0.1/"
		for range 3 {
			status, err := statusVia(t.Context(), c, "Do", url)
			require.NoError(t, err)
			assert.Equal(t, 500, status)
		}
		// Open: calls fail at once, through every way in, and reach nothing.
		for _, how := range ways {
			_, err := statusVia(t.Context(), c, how, url)
			require.ErrorIs(t, err, asynchttp.ErrHostUnavailable, how)
			var hu *asynchttp.HostUnavailableError
			require.True(t, errors.As(err, &hu), how)
			assert.Equal(t, "http://10.255.0.1:80", hu.Host)
			assert.Equal(t, start.Add(time.Second), hu.RetryAt)
		}
		assert.Equal(t, 3, srv.count("10.255.0.1"))
		status, err := statusVia(t.Context(), c, "Do", "http://10.255.0.2/")
		require.NoError(t, err)
		assert.Equal(t, 200, status, "another host is not affected")
		hs := c.Stats().Hosts["http://10.255.0.1:80"]
		assert.Equal(t, asynchttp.BreakerOpen, hs.Breaker)
		assert.Equal(t, uint64(3), hs.BreakerRejects)

		// Half-open after 1 s: one probe (answered slowly), the rest fail.
		probe := func(wantStatus int) {
			t.Helper()
			srv.latency = func(string, int) time.Duration { return 100 * time.Millisecond }
			done := make(chan int, 1)
			go func() {
				s, err := statusVia(t.Context(), c, "Do", url)
				assert.NoError(t, err)
				done <- s
			}()
			synctest.Wait()
			_, err := statusVia(t.Context(), c, "RoundTrip", url)
			require.ErrorIs(t, err, asynchttp.ErrHostUnavailable, "one probe at a time")
			assert.Equal(t, wantStatus, <-done)
			srv.latency = nil
		}
		time.Sleep(time.Second)
		probe(500) // fails: open for 2 s
		_, err = statusVia(t.Context(), c, "Do", url)
		require.ErrorIs(t, err, asynchttp.ErrHostUnavailable)
		time.Sleep(2 * time.Second)
		probe(500) // fails: open for 3 s (MaxCooldown, not 4)
		time.Sleep(3 * time.Second)
		healthy.Store(true)
		probe(200) // closes
		status, err = statusVia(t.Context(), c, "Do", url)
		require.NoError(t, err)
		assert.Equal(t, 200, status)

		mu.Lock()
		defer mu.Unlock()
		p := 100 * time.Millisecond
		assert.Equal(t, []breakerEvent{
			{asynchttp.BreakerOpen, time.Second},
			{asynchttp.BreakerHalfOpen, time.Second},
			{asynchttp.BreakerOpen, time.Second + p + 2*time.Second},
			{asynchttp.BreakerHalfOpen, time.Second + p + 2*time.Second},
			{asynchttp.BreakerOpen, 3*time.Second + 2*p + 3*time.Second},
			{asynchttp.BreakerHalfOpen, 3*time.Second + 2*p + 3*time.Second},
			{asynchttp.BreakerClosed, 3*time.Second + 2*p + 3*time.Second},
		}, events)
		hs = c.Stats().Hosts["http://10.255.0.1:80"]
		assert.Equal(t, asynchttp.BreakerClosed, hs.Breaker)
		assert.Equal(t, uint64(3), hs.BreakerOpenings)
	})
}

func TestBreakerCountsDialFailuresButNotCancellations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refuse := func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("connection refused")
		}
		c := asynchttp.New(asynchttp.Config{Dial: refuse, Breaker: asynchttp.BreakerPolicy{Failures: 2}})
		defer c.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for range 3 {
			_, err := statusVia(ctx, c, "Do", "http://10.255.0.1/")
			require.ErrorIs(t, err, context.Canceled, "the caller's cancellation is no failure of the host")
		}
		_, err := statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
		require.Error(t, err)
		require.NotErrorIs(t, err, asynchttp.ErrHostUnavailable)
		_, err = statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
		require.NotErrorIs(t, err, asynchttp.ErrHostUnavailable, "two dial failures: it opens now")
		_, err = statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
		require.ErrorIs(t, err, asynchttp.ErrHostUnavailable)
	})
}

func TestRetriedAnswersDoNotCountAsBreakerFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: unavailableFor(2)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial,
			Retry:   asynchttp.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond},
			Breaker: asynchttp.BreakerPolicy{Failures: 2}})
		defer c.Close()
		status, err := statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
		require.NoError(t, err)
		assert.Equal(t, 200, status, "two 503s retried: the breaker stays closed")
		assert.Equal(t, asynchttp.BreakerClosed, c.Stats().Hosts["http://10.255.0.1:80"].Breaker)
		assert.Zero(t, c.Stats().Hosts["http://10.255.0.1:80"].BreakerOpenings)
	})
}
