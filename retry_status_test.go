// Status retries (Config.Retry): Retry-After in both forms measured where
// the requests arrive, the backoff's bounds, which requests are retried,
// the host pause, the budget, and cancellation during a wait — under
// testing/synctest.

package asynchttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unavailableFor answers 503 to the first n requests of each host, with
// header's lines, and 200 after.
func unavailableFor(n int) func(string, int) int {
	return func(_ string, i int) int {
		if i <= n {
			return 503
		}
		return 200
	}
}

func statusVia(ctx context.Context, c *asynchttp.Client, how, url string) (int, error) {
	switch how {
	case "Execute":
		req := asynchttp.AcquireRequest()
		defer asynchttp.ReleaseRequest(req)
		req.SetRequestURI(url)
		resp, err := c.Execute(ctx, req).Wait()
		if err != nil {
			return 0, err
		}
		defer asynchttp.ReleaseResponse(resp)
		return resp.StatusCode, nil
	default:
		status, _, err := fetch(ctx, c, how, url)
		return status, err
	}
}

func TestRetryAfterSecondsIsWaitedOut(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &timedServer{status: unavailableFor(2), header: func(string, int) string { return "Retry-After: 2\r\n" }}
				c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{MaxAttempts: 3}})
				defer c.Close()
				status, err := statusVia(t.Context(), c, how, "http://10.255.0.1/")
				require.NoError(t, err)
				assert.Equal(t, 200, status, "the caller sees only the final response")
				at := srv.times("10.255.0.1")
				require.Len(t, at, 3)
				assert.Equal(t, 2*time.Second, at[1].Sub(at[0]))
				assert.Equal(t, 2*time.Second, at[2].Sub(at[1]))
				st := c.Stats()
				hs := st.Hosts["http://10.255.0.1:80"]
				assert.Equal(t, uint64(2), hs.StatusRetries)
				assert.Equal(t, uint64(2), hs.Pauses)
				assert.Equal(t, uint64(1), hs.Created, "the abandoned bodies were drained: one connection served all")
				assert.Equal(t, uint64(2), st.StatusRetries)
			})
		})
	}
}

func TestRetryAfterHTTPDateIsWaitedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: unavailableFor(1), header: func(string, int) string {
			return "Retry-After: " + time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat) + "\r\n"
		}}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{MaxAttempts: 2}})
		defer c.Close()
		status, err := statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		at := srv.times("10.255.0.1")
		require.Len(t, at, 2)
		assert.Equal(t, 3*time.Second, at[1].Sub(at[0]))
	})
}

func TestARetryAfterPastMaxRetryAfterReturnsTheResponseAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: unavailableFor(1), header: func(string, int) string { return "Retry-After: 120\r\n" }}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{MaxAttempts: 3, MaxRetryAfter: 10 * time.Second}})
		defer c.Close()
		start := time.Now()
		status, err := statusVia(t.Context(), c, "RoundTrip", "http://10.255.0.1/")
		require.NoError(t, err)
		assert.Equal(t, 503, status)
		assert.Zero(t, time.Since(start))
		assert.Equal(t, 1, srv.count("10.255.0.1"))
		// The host is paused for MaxRetryAfter, the most this client honours.
		assert.Equal(t, start.Add(10*time.Second), c.Stats().Hosts["http://10.255.0.1:80"].PausedUntil)
		status, err = statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Equal(t, 10*time.Second, time.Since(start), "the next request waited out the pause")
	})
}

func TestBackoffIsFullJitterUnderItsCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: func(string, int) int { return 429 }}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{
			MaxAttempts: 6, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}})
		defer c.Close()
		var sum time.Duration
		const runs = 20
		for i := range runs {
			status, err := statusVia(t.Context(), c, "Do", fmt.Sprintf("http://10.255.1.%d/", i))
			require.NoError(t, err)
			assert.Equal(t, 429, status, "the last answer, once the attempts run out")
			at := srv.times(fmt.Sprintf("10.255.1.%d", i))
			require.Len(t, at, 6)
			for n := 1; n < len(at); n++ {
				ceil := min(100*time.Millisecond<<(n-1), 500*time.Millisecond)
				gap := at[n].Sub(at[n-1])
				assert.Less(t, gap, ceil, "retry %d", n)
				sum += gap
			}
		}
		// Full jitter: the mean wait is about half the caps' mean (0.26 s).
		mean := sum / (runs * 5)
		assert.Greater(t, mean, 60*time.Millisecond)
		assert.Less(t, mean, 200*time.Millisecond)
	})
}

func TestOnlyRequestsSafeToResendAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: unavailableFor(1)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{MaxAttempts: 2, BaseBackoff: time.Millisecond}})
		defer c.Close()
		post := func(host string, key bool, body io.Reader) int {
			req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+host+"/", body)
			require.NoError(t, err)
			if key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			resp, err := c.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		assert.Equal(t, 503, post("10.255.0.1", false, strings.NewReader("x")), "POST without Idempotency-Key: not retried")
		assert.Equal(t, 1, srv.count("10.255.0.1"))
		assert.Equal(t, 200, post("10.255.0.2", true, strings.NewReader("x")), "with it (and a replayable body): retried")
		assert.Equal(t, 2, srv.count("10.255.0.2"))
		// A body that cannot be replayed (no GetBody) is not retried.
		assert.Equal(t, 503, post("10.255.0.3", true, io.MultiReader(strings.NewReader("x"))))
		assert.Equal(t, 1, srv.count("10.255.0.3"))
	})
}

func TestAPauseHoldsBackOtherRequestsToTheHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{
			status: func(host string, n int) int {
				if host == "10.255.0.1" && n == 1 {
					return 503
				}
				return 200
			},
			header: func(host string, n int) string {
				if host == "10.255.0.1" && n == 1 {
					return "Retry-After: 5\r\n"
				}
				return ""
			},
		}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{MaxAttempts: 2}})
		defer c.Close()
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() { _, err := statusVia(t.Context(), c, "Do", "http://10.255.0.1/a"); assert.NoError(t, err) })
		time.Sleep(time.Second)
		paused := c.Stats().Hosts["http://10.255.0.1:80"].PausedUntil
		assert.Equal(t, start.Add(5*time.Second), paused)
		wg.Go(func() {
			_, err := statusVia(t.Context(), c, "RoundTrip", "http://10.255.0.1/b")
			assert.NoError(t, err)
		})
		wg.Go(func() { _, err := statusVia(t.Context(), c, "Do", "http://10.255.0.2/"); assert.NoError(t, err) })
		wg.Wait()
		at := srv.times("10.255.0.1")
		require.Len(t, at, 3)
		assert.Equal(t, 5*time.Second, at[1].Sub(start))
		assert.Equal(t, 5*time.Second, at[2].Sub(start), "the other request waited for the pause too")
		other := srv.times("10.255.0.2")
		require.Len(t, other, 1)
		assert.Equal(t, time.Second, other[0].Sub(start), "another host is not paused")
	})
}

func TestTheRetryBudgetHoldsUnderAHostThatAlwaysFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: func(string, int) int { return 503 }}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Retry: asynchttp.RetryPolicy{
			MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Budget: 0.1}})
		defer c.Close()
		const requests = 100
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				for range requests / 5 {
					status, err := statusVia(t.Context(), c, "Do", "http://10.255.0.1/")
					assert.NoError(t, err)
					assert.Equal(t, 503, status)
				}
			})
		}
		wg.Wait()
		got := srv.count("10.255.0.1")
		hs := c.Stats().Hosts["http://10.255.0.1:80"]
		t.Logf("server saw %d requests for %d; %d retries, %d refused by the budget", got, requests, hs.StatusRetries, hs.RetryBudgetRefusals)
		assert.LessOrEqual(t, got, requests+requests/10+1, "at most 10 %% more load (and the one retry always allowed)")
		assert.Greater(t, hs.RetryBudgetRefusals, uint64(0))
		assert.Equal(t, uint64(got-requests), hs.StatusRetries)
	})
}

func TestCancelingDuringABackoffFreesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{status: unavailableFor(1), header: func(string, int) string { return "Retry-After: 10\r\n" }}
		lim := newCountingLimiter(0)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, HostLimiter: lim, Retry: asynchttp.RetryPolicy{MaxAttempts: 2}})
		defer c.Close()
		for _, how := range ways {
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { _, err := statusVia(ctx, c, how, fmt.Sprintf("http://10.255.2.%d/", len(how))); errc <- err }()
			time.Sleep(time.Second)
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled, how)
		}
		synctest.Wait()
		st := c.Stats()
		assert.Zero(t, st.InUse)
		assert.Zero(t, st.Waiting)
		assert.Equal(t, 3, st.Idle, "each abandoned body was drained and its conn kept")
		acq, rel, twice, held, _ := lim.counts()
		assert.Equal(t, 3, acq)
		assert.Equal(t, acq, rel)
		assert.Zero(t, twice)
		assert.Zero(t, held)
	})
}
