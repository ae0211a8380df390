// Futures and fan-out: every method, cancellation in each phase, WaitAll,
// Group, and panics in callbacks and hooks.

package asynchttp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newReq(url string) *asynchttp.Request {
	req := asynchttp.AcquireRequest()
	req.SetRequestURI(url)
	return req
}

func waitFuture(t *testing.T, f *asynchttp.Future) (*asynchttp.Response, error) {
	t.Helper()
	select {
	case <-f.Done():
		return f.Wait()
	case <-time.After(10 * time.Second):
		t.Fatal("future not done")
		return nil, nil
	}
}

func TestFutureWaitDoneAndCallbacks(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	req := newReq(srv.URL())
	defer asynchttp.ReleaseRequest(req)

	var calls atomic.Int32
	f := c.Execute(testCtx(t), req)
	f.OnComplete(func(r *asynchttp.Response, err error) {
		assert.NoError(t, err)
		assert.Equal(t, "ok", string(r.Body()))
		calls.Add(1)
	})
	resp, err := waitFuture(t, f)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok", string(resp.Body()))
	resp2, err2 := f.Wait() // again: same outcome
	assert.Same(t, resp, resp2)
	assert.NoError(t, err2)

	// Registered after completion: runs at once, in this goroutine.
	ran := false
	f.OnComplete(func(r *asynchttp.Response, err error) { ran = true; calls.Add(1) })
	assert.True(t, ran)
	eventually(t, "both callbacks ran once", func() bool { return calls.Load() == 2 })
	f.Cancel() // after completion: nothing happens
	_, err = f.Wait()
	assert.NoError(t, err)
	asynchttp.ReleaseResponse(resp)
}

func TestFutureCallbackPanicIsContained(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	req := newReq(srv.URL())
	defer asynchttp.ReleaseRequest(req)
	f := c.Execute(testCtx(t), req)
	var second atomic.Bool
	f.OnComplete(func(*asynchttp.Response, error) { panic("boom") })
	f.OnComplete(func(*asynchttp.Response, error) { second.Store(true) })
	resp, err := waitFuture(t, f)
	require.NoError(t, err)
	eventually(t, "panic recorded", func() bool { return len(f.CallbackPanics()) == 1 })
	// Callbacks run after Wait returns, in order: the panic is recorded
	// just before the second one starts.
	eventually(t, "later callbacks still run", second.Load)
	var pe *asynchttp.PanicError
	require.ErrorAs(t, f.CallbackPanics()[0], &pe)
	assert.Equal(t, "boom", pe.Value)
	asynchttp.ReleaseResponse(resp)
	// The client is unharmed.
	_, _, err = get(testCtx(t), c, "GET", srv.URL())
	require.NoError(t, err)
}

// TestFutureCancelInEachPhase cancels a future while it waits for a slot,
// dials, writes its body and reads the response.
func TestFutureCancelInEachPhase(t *testing.T) {
	for _, phase := range []string{"waiting", "dialing", "writing", "reading"} {
		t.Run(phase, func(t *testing.T) {
			entered := make(chan struct{}, 1)
			signal := func() {
				select {
				case entered <- struct{}{}:
				default:
				}
			}
			cfg := asynchttp.Config{}
			var holdDone chan struct{}
			if phase == "dialing" {
				cfg.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
					signal()
					<-ctx.Done()
					return nil, ctx.Err()
				}
			}
			if phase == "waiting" {
				cfg.MaxConnsPerHost = 1
			}
			c := newClient(t, cfg)
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				br := bufio.NewReader(nc)
				switch phase {
				case "writing":
					signal()
					nc.Read(make([]byte, 1)) // read one byte, then never again
					io.Copy(io.Discard, nc)  // until the client hangs up
					return
				case "reading":
					testserver.ReadRequest(br)
					signal()
				case "waiting":
					testserver.ReadRequest(br)
					<-holdDone
				}
				nc.Read(make([]byte, 1))
			})
			ctx := testCtx(t)
			if phase == "waiting" {
				holdDone = make(chan struct{})
				defer close(holdDone)
				holder := newReq(srv.URL() + "/hold")
				defer asynchttp.ReleaseRequest(holder)
				hf := c.Execute(ctx, holder)
				defer func() { hf.Cancel(); waitFuture(t, hf) }()
				eventually(t, "holder in flight", func() bool { return c.Stats().InUse == 1 })
			}
			req := newReq(srv.URL())
			defer asynchttp.ReleaseRequest(req)
			if phase == "writing" {
				req.SetMethod("POST")
				req.SetBody(make([]byte, 64<<20)) // far more than socket buffers hold
			}
			f := c.Execute(ctx, req)
			switch phase {
			case "waiting":
				eventually(t, "queued", func() bool { return c.Stats().Waiting == 1 })
			default:
				select {
				case <-entered:
				case <-time.After(10 * time.Second):
					t.Fatal("phase not reached")
				}
			}
			f.Cancel()
			resp, err := waitFuture(t, f)
			assert.Nil(t, resp)
			require.ErrorIs(t, err, context.Canceled)
			st := c.Stats()
			assert.Zero(t, st.Waiting)
			if phase != "waiting" {
				assert.Zero(t, st.Open, "the conn cut mid-exchange is closed")
			}
			assert.Empty(t, asynchttp.CheckInvariants(c))
		})
	}
}

func TestWaitAllAndWaitAllOrCancelFirstError(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	release := make(chan struct{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(500)
			panic(http.ErrAbortHandler) // hang up: the client sees an error
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	defer close(release)
	ctx := testCtx(t)

	var reqs []*asynchttp.Request
	start := func(path string) *asynchttp.Future {
		req := newReq(srv.URL() + path)
		reqs = append(reqs, req)
		return c.Execute(ctx, req)
	}
	defer func() {
		for _, r := range reqs {
			asynchttp.ReleaseRequest(r)
		}
	}()

	fs := []*asynchttp.Future{start("/a"), start("/b"), start("/c")}
	res := asynchttp.WaitAll(fs...)
	require.Len(t, res, 3)
	for _, r := range res {
		require.NoError(t, r.Err)
		assert.Equal(t, "ok", string(r.Response.Body()))
		asynchttp.ReleaseResponse(r.Response)
	}

	fs = []*asynchttp.Future{start("/slow"), start("/fail"), start("/slow")}
	err := asynchttp.WaitAllOrCancel(fs...)
	require.Error(t, err)
	assert.NotErrorIs(t, err, context.Canceled, "the first error, not the cancellations it caused")
	for _, i := range []int{0, 2} {
		_, err := fs[i].Wait()
		require.ErrorIs(t, err, context.Canceled)
	}
	assert.Empty(t, asynchttp.CheckInvariants(c))
}

func TestGroupBoundsConcurrency(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	var inFlight, maxInFlight atomic.Int32
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(time.Millisecond) // let others pile up if the bound failed
		inFlight.Add(-1)
		io.WriteString(w, "ok")
	}))
	g := asynchttp.NewGroup(c, 3)
	ctx := testCtx(t)
	var mu sync.Mutex
	var fs []*asynchttp.Future
	for i := range 30 {
		req := newReq(fmt.Sprintf("%s/%d", srv.URL(), i))
		f := g.Execute(ctx, req)
		f.OnComplete(func(r *asynchttp.Response, err error) {
			if r != nil {
				asynchttp.ReleaseResponse(r)
			}
			asynchttp.ReleaseRequest(req)
		})
		mu.Lock()
		fs = append(fs, f)
		mu.Unlock()
	}
	g.Wait()
	for _, f := range fs {
		_, err := f.Wait()
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, maxInFlight.Load(), int32(3))
	assert.LessOrEqual(t, srv.Accepted(), 3)

	// A context that ends while the group is full fails at once.
	gate := newGate()
	blocked := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gate.wait(r) }))
	g1 := asynchttp.NewGroup(c, 1)
	hold := newReq(blocked.URL())
	defer asynchttp.ReleaseRequest(hold)
	hf := g1.Execute(ctx, hold)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	r2 := newReq(blocked.URL())
	defer asynchttp.ReleaseRequest(r2)
	_, err := waitFuture(t, g1.Execute(short, r2))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	gate.open()
	resp, err := waitFuture(t, hf)
	require.NoError(t, err)
	asynchttp.ReleaseResponse(resp)
	g1.Wait()
}

// TestFuturePanickingHookFailsTheFuture: a hook that panics in a Future's
// goroutine (here httptrace's GotConn) fails that Future with a
// *PanicError instead of ending the process, and the pool is whole.
func TestFuturePanickingHookFailsTheFuture(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var armed atomic.Bool
	ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		if armed.CompareAndSwap(true, false) {
			panic("hook bug")
		}
	}})
	for _, run := range []func(*asynchttp.Request) *asynchttp.Future{
		func(req *asynchttp.Request) *asynchttp.Future { return c.Execute(ctx, req) },
		func(req *asynchttp.Request) *asynchttp.Future {
			return c.ExecuteHandler(ctx, req, nopHandler{})
		},
	} {
		for _, panics := range []bool{true, false} {
			armed.Store(panics)
			req := asynchttp.AcquireRequest()
			req.SetRequestURI(srv.URL())
			resp, err := run(req).Wait()
			asynchttp.ReleaseRequest(req)
			if panics {
				var pe *asynchttp.PanicError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "hook bug", pe.Value)
				assert.Nil(t, resp)
			} else {
				require.NoError(t, err, "the host's one slot was given back")
				asynchttp.ReleaseResponse(resp)
			}
			assert.Zero(t, c.Stats().InUse)
		}
	}
}
