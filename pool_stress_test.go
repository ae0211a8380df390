// The pool's dispatch under random load from many goroutines.

package asynchttp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolDispatchUnderStressKeepsAccounting drives the pool alone (net.Pipe
// conns, no traffic) from many goroutines over many hosts under both caps:
// callers that give up early, retries that want a new conn, conns closed
// instead of released, DrainHost, idle conns expiring under the callers. The
// accounting and the dispatch queue are checked all along; a lost wake-up
// shows as a caller that never returns.
func TestPoolDispatchUnderStressKeepsAccounting(t *testing.T) {
	const hosts, callers, rounds = 24, 96, 300
	var pipes pipeDials
	c := New(Config{MaxConnsPerHost: 2, MaxTotalConns: 16, MaxIdleConnsPerHost: 1, IdleTimeout: 500 * time.Microsecond,
		Dial: pipes.dial})
	defer func() {
		c.Close()
		pipes.close()
	}()
	reqs := make([]*Request, hosts)
	for i := range reqs {
		reqs[i] = AcquireRequest()
		reqs[i].SetRequestURI(fmt.Sprintf("http://10.255.0.%d/", i+1))
		require.NoError(t, reqs[i].prepare())
	}

	var stop atomic.Bool
	var breach atomic.Value
	checked := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			if s := c.pool.checkInvariants(); s != "" && breach.Load() == nil {
				breach.Store(s)
			}
			n++
		}
		checked <- n
	}()

	var served, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range rounds {
				req := reqs[rng.IntN(hosts)]
				timeout := time.Second
				if rng.IntN(8) == 0 {
					timeout = time.Duration(rng.IntN(300)) * time.Microsecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				cn, err := c.pool.acquire(ctx, req, rng.IntN(10) == 0)
				cancel()
				if err != nil {
					var te *TimeoutError
					if !errors.As(err, &te) {
						t.Errorf("acquire: %v", err)
						return
					}
					gaveUp.Add(1)
					continue
				}
				served.Add(1)
				switch r := rng.IntN(20); {
				case r < 3:
					c.pool.closeConn(cn, CloseError)
				case r == 3:
					c.pool.drainHost(string(req.hostKey()))
					c.pool.release(cn)
				default:
					c.pool.release(cn)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		stop.Store(true)
		t.Fatalf("callers still blocked after 60 s (a lost wake-up?); stats %+v", c.Stats())
	}
	stop.Store(true)
	n := <-checked
	if b := breach.Load(); b != nil {
		t.Fatalf("invariant broken under load: %v", b)
	}
	st := c.Stats()
	t.Logf("served %d, gave up %d, invariant checks %d, conns created %d, waits %d", served.Load(), gaveUp.Load(), n, st.Created, st.Waits)
	assert.Equal(t, int64(callers*rounds), served.Load()+gaveUp.Load())
	assert.Zero(t, st.InUse)
	assert.Zero(t, st.Waiting)
	assert.LessOrEqual(t, st.Open, hosts)
	assert.Empty(t, c.pool.checkInvariants())
}
