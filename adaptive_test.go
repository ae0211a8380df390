// HostPolicy.Adaptive: the host's connection limit follows its latency
// and its 429/503 answers, under testing/synctest.

package asynchttp_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kneeLatency answers in 10 ms while at most knee requests are in flight,
// and in 60 ms (a queue forming) past that.
func kneeLatency(knee int) func(string, int) time.Duration {
	return func(_ string, inFlight int) time.Duration {
		if inFlight > knee {
			return 60 * time.Millisecond
		}
		return 10 * time.Millisecond
	}
}

func TestAdaptiveLimitSettlesAtTheLatencyKnee(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &timedServer{latency: kneeLatency(3)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 16,
			HostPolicy: func(string) asynchttp.HostPolicy { return asynchttp.HostPolicy{Adaptive: true} }})
		defer c.Close()
		const host = "http://10.255.0.1:80"
		var sent atomic.Int64
		run := func(n int64) {
			var wg sync.WaitGroup
			for range 16 { // more callers than the knee: the limit decides
				wg.Go(func() {
					for sent.Add(1) <= n {
						assert.NoError(t, sendVia(t.Context(), c, "Do", "http://10.255.0.1/"))
					}
				})
			}
			wg.Wait()
		}
		run(300) // converge
		limits := map[int]int{}
		srv.resetPeak("10.255.0.1")
		sent.Store(0)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() { // sample the limit every 10 ms while the load runs
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					limits[c.Stats().Hosts[host].ConnLimit]++
				}
			}
		})
		run(600)
		close(stop)
		wg.Wait()
		t.Logf("adaptive limit samples: %v", limits)
		// It settles at the knee: 3 or 4 nearly all the time, a round at 5
		// now and then (when the scheduler lets a round of 4 look quick),
		// never further.
		near, all := limits[3]+limits[4], 0
		for l, n := range limits {
			all += n
			assert.True(t, l >= 3 && l <= 5, "the limit stays at the knee: %v", limits)
		}
		assert.GreaterOrEqual(t, near*100, all*90, "at 3 or 4 at least 90 %% of the time: %v", limits)
		assert.Greater(t, limits[3], 0)
		assert.LessOrEqual(t, srv.peakOf("10.255.0.1"), 5, "the server never sees more than knee+2")
	})
}

func TestAdaptiveLimitHalvesOn503AndGrowsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var overloaded atomic.Bool
		srv := &timedServer{
			latency: func(string, int) time.Duration { return 10 * time.Millisecond },
			status: func(string, int) int {
				if overloaded.Load() {
					return 503
				}
				return 200
			},
		}
		var mu sync.Mutex
		var moves []int
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, Events: asynchttp.Events{
			HostLimitChanged: func(host string, limit int) {
				assert.Equal(t, "http://10.255.0.1:80", host)
				mu.Lock()
				moves = append(moves, limit)
				mu.Unlock()
			}}})
		defer c.Close()
		const host = "http://10.255.0.1:80"
		require.NoError(t, c.SetHostPolicy(host, asynchttp.HostPolicy{Adaptive: true, MaxConns: 8}))
		limit := func() int { return c.Stats().Hosts[host].ConnLimit }
		load := func(n int) {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range n {
						sendVia(t.Context(), c, "Do", "http://10.255.0.1/")
					}
				})
			}
			wg.Wait()
		}
		load(20)
		require.Equal(t, 8, limit(), "a quick host grows to MaxConns")
		overloaded.Store(true)
		load(5)
		assert.Equal(t, 1, limit(), "503s halve it, once per round, down to 1")
		overloaded.Store(false)
		load(40)
		assert.Equal(t, 8, limit(), "quick answers grow it back")
		assert.Equal(t, asynchttp.HostPolicy{Adaptive: true, MaxConns: 8}, c.Stats().Hosts[host].Policy)
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, moves)
		assert.Equal(t, []int{2, 4, 8}, moves[:3], "slow start doubles")
		assert.Contains(t, moves, 1, "the 503s took it down to 1")
		assert.Equal(t, 8, moves[len(moves)-1])
	})
}
