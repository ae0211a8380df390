// Callers waiting for a conn: served in arrival order, leaving the queue
// when their context ends, and each client's waiters kept to itself.

package asynchttp_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaitersServedInArrivalOrder(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	g := newGate()
	var mu sync.Mutex
	var order []string
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.wait(r)
		}
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _, err := get(ctx, c, "GET", srv.URL()+"/hold")
		assert.NoError(t, err)
	})
	eventually(t, "holder in flight", func() bool { return g.inside.Load() == 1 })
	var want []string
	for i := range 8 {
		path := "/" + strconv.Itoa(i)
		want = append(want, path)
		wg.Go(func() {
			_, _, err := get(ctx, c, "GET", srv.URL()+path)
			assert.NoError(t, err)
		})
		eventually(t, "waiter queued", func() bool { return c.Stats().Waiting == i+1 })
	}
	g.open()
	wg.Wait()
	assert.Equal(t, append([]string{"/hold"}, want...), order)
	assert.Equal(t, 1, srv.Accepted())
}

// TestWaitersLeaveTheQueueWhenTheirContextEnds: callers queued for the one
// slot of a host leave the queue when their context is canceled or its
// deadline passes, each with its own cause, on time; the queue and the slot
// accounting come back to where they were, and the slot still works.
func TestWaitersLeaveTheQueueWhenTheirContextEnds(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	srv, g := holdServer(t)
	t.Cleanup(g.open)
	ctx := testCtx(t)
	holder := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/hold"); holder <- err }()
	eventually(t, "holder in flight", func() bool { return g.inside.Load() == 1 })

	const n = 24
	type result struct {
		err  error
		took time.Duration
	}
	results := make([]result, n)
	causes := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		var wctx context.Context
		if i%2 == 0 {
			var cancel context.CancelCauseFunc
			wctx, cancel = context.WithCancelCause(ctx)
			causes[i] = fmt.Errorf("caller %d gave up", i)
			time.AfterFunc(time.Duration(20+i)*time.Millisecond, func() { cancel(causes[i]) })
		} else {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, time.Duration(20+i)*time.Millisecond)
			defer cancel()
		}
		wg.Go(func() {
			_, _, err := fetch(wctx, c, via[i/2%2], srv.URL()+"/wait")
			results[i] = result{err, time.Since(start)}
		})
	}
	wg.Wait()
	for i, r := range results {
		if i%2 == 0 {
			assert.ErrorIs(t, r.err, causes[i], "caller %d", i)
		} else {
			assert.ErrorIs(t, r.err, context.DeadlineExceeded, "caller %d", i)
		}
		assert.Less(t, r.took, time.Duration(20+i)*time.Millisecond+2*time.Second, "caller %d left late", i)
	}
	st := c.Stats()
	assert.Zero(t, st.Waiting)
	assert.Equal(t, 1, st.Open)
	assert.Empty(t, asynchttp.CheckInvariants(c))

	g.open()
	require.NoError(t, <-holder)
	for _, how := range via {
		code, _, err := fetch(ctx, c, how, srv.URL()+"/after")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
	}
	assert.Equal(t, 1, srv.Accepted(), "the slot's one conn served them all")
	assert.Equal(t, 3, srv.Requests(), "no waiter that gave up was sent")
	checkPoolEmpty(t, c)
}

// queueOne makes a caller wait for the one conn of c (MaxConnsPerHost 1):
// /hold keeps it until hold closes, then a second GET, queued meanwhile,
// gets it. wait says when the second caller is queued.
func queueOne(t *testing.T, c *asynchttp.Client, hold chan struct{}, wait func()) {
	const url = "http://10.255.0.1:80"
	held, queued := make(chan error, 1), make(chan error, 1)
	go func() { _, _, err := get(t.Context(), c, "GET", url+"/hold"); held <- err }()
	wait()
	go func() { _, _, err := get(t.Context(), c, "GET", url+"/"); queued <- err }()
	wait()
	close(hold)
	require.NoError(t, <-held)
	require.NoError(t, <-queued)
}

// TestWaitersStayWithTheirClient: a caller that waits for a conn uses a
// recycled waiter and its channel. Waiters recycled across clients would
// carry channels across testing/synctest bubbles: a wait in a bubble on a
// channel made outside is not durably blocking (synctest.Wait never
// returns), and one made in a bubble and used outside panics.
func TestWaitersStayWithTheirClient(t *testing.T) {
	outside := func() {
		srv := &pipeServer{}
		hold := make(chan struct{})
		srv.serve = serveOK(hold)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1})
		defer c.Close()
		calls := 0
		queueOne(t, c, hold, func() {
			calls++
			eventually(t, "the first caller in flight, then the second queued", func() bool {
				st := c.Stats()
				return st.InUse == 1 && st.Waiting == calls-1
			})
		})
	}
	outside()
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{}
		hold := make(chan struct{})
		srv.serve = serveOK(hold)
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1})
		defer c.Close()
		queueOne(t, c, hold, synctest.Wait)
		assert.Equal(t, uint64(1), c.Stats().Waits)
	})
	outside()
}
