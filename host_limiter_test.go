// Config.HostLimiter: each request is admitted once before it takes a
// connection, and released exactly once when it ends, on every path.

package asynchttp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingLimiter admits up to max requests at once (0: any), counts
// acquires and releases, and fails a release made twice.
type countingLimiter struct {
	max   int
	deny  error
	mu    sync.Mutex
	cond  *sync.Cond
	held  int
	peak  int
	hosts []string
	acq   int
	rel   int
	twice int
}

func newCountingLimiter(max int) *countingLimiter {
	l := &countingLimiter{max: max}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *countingLimiter) Acquire(ctx context.Context, host string) (func(), error) {
	if l.deny != nil {
		return nil, l.deny
	}
	stop := context.AfterFunc(ctx, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.max > 0 && l.held >= l.max {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l.cond.Wait()
	}
	l.held++
	l.peak = max(l.peak, l.held)
	l.acq++
	l.hosts = append(l.hosts, host)
	released := false
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if released {
			l.twice++
			return
		}
		released = true
		l.held--
		l.rel++
		l.cond.Broadcast()
	}, nil
}

func (l *countingLimiter) counts() (acq, rel, twice, held, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acq, l.rel, l.twice, l.held, l.peak
}

func TestHostLimiterReleasesOnceOnEveryPath(t *testing.T) {
	l := newCountingLimiter(0)
	c := newClient(t, asynchttp.Config{HostLimiter: l})
	srv, _ := holdServer(t)
	ctx := testCtx(t)
	hc := &http.Client{Transport: c}

	// Do, success.
	_, _, err := get(ctx, c, "GET", srv.URL()+"/a")
	require.NoError(t, err)
	// Do, a refused connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	_, _, err = get(ctx, c, "GET", refused)
	require.Error(t, err)
	// Do, a panic in an httptrace hook.
	func() {
		defer func() { recover() }()
		pctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { panic("hook") }})
		get(pctx, c, "GET", srv.URL()+"/p")
	}()
	// RoundTrip: released only when the body ends, read or closed early.
	resp, err := hc.Get(srv.URL() + "/b")
	require.NoError(t, err)
	_, _, _, held, _ := l.counts()
	assert.Equal(t, 1, held, "the request holds its admission while its body is unread")
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = hc.Get(srv.URL() + "/c")
	require.NoError(t, err)
	resp.Body.Close()
	// RoundTrip, an error.
	_, err = hc.Get(refused)
	require.Error(t, err)
	// RoundTrip, an upgrade: released at the 101.
	up := upgradeServer(t, nil)
	resp, err = hc.Do(upgradeRequest(t, ctx, up.URL()))
	require.NoError(t, err)
	resp.Body.Close()
	// ExecuteHandler.
	r, err := c.ExecuteHandler(ctx, getRequest(srv.URL()+"/h"), nopHandler{}).Wait()
	require.NoError(t, err)
	asynchttp.ReleaseResponse(r)

	acq, rel, twice, held, _ := l.counts()
	assert.Equal(t, 8, acq)
	assert.Equal(t, acq, rel, "every admission is released")
	assert.Zero(t, twice, "no release is called twice")
	assert.Zero(t, held)
	l.mu.Lock()
	assert.Equal(t, srv.URL(), l.hosts[0], "the host key is scheme://host:port")
	l.mu.Unlock()
}

func TestHostLimiterBoundsRequestsInFlight(t *testing.T) {
	l := newCountingLimiter(2)
	c := newClient(t, asynchttp.Config{HostLimiter: l})
	srv, g := holdServer(t)
	ctx := testCtx(t)
	var fs []*asynchttp.Future
	for range 5 {
		fs = append(fs, c.Execute(ctx, getRequest(srv.URL()+"/hold")))
	}
	eventually(t, "two requests reach the server", func() bool { return g.inside.Load() == 2 })
	_, _, _, held, _ := l.counts()
	assert.Equal(t, 2, held)
	g.open()
	for _, f := range fs {
		r, err := f.Wait()
		require.NoError(t, err)
		asynchttp.ReleaseResponse(r)
	}
	acq, rel, twice, held, peak := l.counts()
	assert.Equal(t, 5, acq)
	assert.Equal(t, 5, rel)
	assert.Zero(t, twice)
	assert.Zero(t, held)
	assert.Equal(t, 2, peak, "never more than the limiter admits")
}

func TestHostLimiterRefusalAndCancellation(t *testing.T) {
	errNo := errors.New("not now")
	l := newCountingLimiter(1)
	c := newClient(t, asynchttp.Config{HostLimiter: l})
	srv, g := holdServer(t)
	ctx := testCtx(t)

	// The one slot is held; a second caller waits in Acquire and gives
	// up with its context: nothing is released for it.
	first := c.Execute(ctx, getRequest(srv.URL()+"/hold"))
	eventually(t, "the first request is held", func() bool { return g.inside.Load() == 1 })
	cctx, cancel := context.WithCancel(ctx)
	second := c.Execute(cctx, getRequest(srv.URL()+"/x"))
	cancel()
	_, err := second.Wait()
	require.ErrorIs(t, err, context.Canceled)
	g.open()
	r, err := first.Wait()
	require.NoError(t, err)
	asynchttp.ReleaseResponse(r)

	l.deny = errNo
	_, _, err = get(ctx, c, "GET", srv.URL()+"/y")
	require.ErrorIs(t, err, errNo)
	_, err = (&http.Client{Transport: c}).Get(srv.URL() + "/z")
	require.ErrorIs(t, err, errNo)
	assert.Equal(t, 1, srv.Requests(), "refused requests never reach the server")

	acq, rel, twice, held, _ := l.counts()
	assert.Equal(t, 1, acq)
	assert.Equal(t, 1, rel)
	assert.Zero(t, twice)
	assert.Zero(t, held)

	// Stats counts the limiter's answers per host: one admitted, two
	// refused, and the canceled caller refused by it while it waited or,
	// canceled before it got there, by the policy layer.
	hs := c.Stats().Hosts[srv.URL()]
	assert.Equal(t, uint64(1), hs.Admissions-hs.AdmissionRefusals)
	assert.Equal(t, uint64(3), hs.AdmissionRefusals+hs.PolicyRefusals)
	assert.Greater(t, hs.AdmissionTime, time.Duration(0))
}
